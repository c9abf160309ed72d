"""The ``context`` a workflow function receives: durable steps, waits and sleeps, replayed by position."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import BaseModel

from ..metrics import resumed
from .asks import Ask, to_json_value, wait_result
from .durations import Duration, Instant, instant, parse_duration
from .errors import NonDeterminism, NonRetryableError, ResultNotSerializable, StepError
from .forms import Options
from .invocations import InvokeResult, invoke
from .middleware import fire
from .models import Step, StepStatus, StepType, apply_resolution
from .outcomes import WaitOutcome, WaitResult
from .parallel import Resume, Task, run_parallel
from .signals import CancelRun, LeaseLost, RetryStep, Suspend
from .storage.store import Pending

if TYPE_CHECKING:
    from .execution import Execution

__all__ = ["WorkflowContext", "to_json_value"]


class WorkflowContext:
    """Durable building blocks for one run; each call is one step, identified by its position."""

    def __init__(self, execution: Execution, payload: Any) -> None:
        self._execution = execution
        self.workflow_run_id: str = execution.run_id
        self.workflow_name: str = execution.workflow.name
        self.request_payload: Any = payload
        # For middleware that talks to the same Redis.
        self.connection = execution.engine.redis
        # The process's settings, parsed once: a workflow reads them here, not from the environment
        # at every execution (Settings.from_env rereads every HITL_* variable to validate its cache).
        self.settings = execution.engine.settings
        self._steps: list[Step] = execution.claim.steps
        self._position = 0
        # The step being executed for real, and its position: middleware reads them.
        self.current_step: Step | None = None
        self.current_index: int = -1
        self._step_key: str | None = None
        # Records that go with this execution's next write (see ``Pending``).
        self.pending = Pending()

    @property
    def step_key(self) -> str:
        """An idempotency key for the step being run: the same for every attempt of it, in this run only.

        A step's recorded result is exactly-once, but its ``fn`` may run again when an execution is
        interrupted or stalls past its lease (a crash, SIGKILL, a long GC or SIGSTOP): pass this key to
        external calls (payments, e-mails) so that the second attempt is recognised as the first.
        """
        if self._step_key is None:
            raise RuntimeError("context.step_key is only defined inside a step's function (context.run)")
        return self._step_key

    # -- step API -------------------------------------------------------------------------
    def run(self, step_name: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` once for this run and return its JSON result; on replay return the stored one."""
        index, recorded = self._next(step_name, StepType.RUN)
        return self._run_step(index, recorded, step_name, fn)

    def _run_step(self, index: int, recorded: Step | None, step_name: str, fn: Callable[[], Any]) -> Any:
        """``run`` of the step at ``index`` (``recorded``: its record so far, if any)."""
        if recorded is not None and recorded.status is StepStatus.COMPLETED:
            return recorded.result
        if recorded is not None and recorded.status is StepStatus.FAILED:
            raise StepError(step_name, recorded.error or "failed")
        attempt = (recorded.attempts if recorded else 0) + 1
        step = Step(step_name, StepType.RUN, StepStatus.RUNNING, time.time(), attempts=attempt)
        ex = self._execution
        # Written (with the previous step's completion) before ``fn`` runs, so what ``fn`` does always
        # follows a stored completion of every earlier step, and a page told by the hook finds it.
        self._record(index, step, now=True)
        fire(ex.middlewares, "before_execution", context=self, step_name=step_name)
        # Run id, position and name: what identifies this step across attempts, replays and workers.
        self._step_key = f"{ex.run_id}:{index}:{step_name}"
        try:
            value = fn()
            if inspect.isawaitable(value):
                value = asyncio.run(_await(value))
            result = to_json_value(value, f"step {step_name!r}")
        except ResultNotSerializable:
            raise
        except NonRetryableError as exc:
            self._fail_step(index, step, exc, final=True)
            raise
        except Exception as exc:
            final = attempt > ex.workflow.retry.retries
            self._fail_step(index, step, exc, final=final)
            if final:
                raise StepError(step_name, _describe(exc)) from exc
            raise RetryStep(step_name, attempt, exc) from exc
        finally:
            self._step_key = None
        step.status, step.result, step.finished_at = StepStatus.COMPLETED, result, time.time()
        self._record(index, step)
        ex.log_step(step_name, "completed", step.finished_at - step.started_at, logging.DEBUG)
        fire(ex.middlewares, "after_execution", context=self, step_name=step_name, result=result)
        return result

    def wait_for_event(
        self,
        step_name: str,
        event_id: str,
        timeout: Duration = "7d",
        *,
        message: str | None = None,
        approvers: list[str] | None = None,
        form: type[BaseModel] | None = None,
        initial: dict[str, Any] | BaseModel | None = None,
        options: Options | None = None,
        quorum: int | str | None = None,
        notify: list[str] | None = None,
        due: Duration | None = None,
        on_timeout: str | dict[str, Any] | None = None,
        remind_every: Duration | None = None,
        reminders: int = 3,
        escalate_after: Duration | None = None,
        escalate_to: list[str] | None = None,
    ) -> WaitResult:
        """Pause until ``notify(event_id, ...)`` or ``timeout``; the run holds no worker meanwhile.

        ``message`` is what an approver is shown (default: "Waiting for <step name>"); ``approvers``
        limits who may decide it from the approval page (default: any approver). A typed ask: the
        decision is ``form`` (a pydantic model, prefilled from ``initial``) and one of ``options``
        (labels, or keys to labels; default Approve and Reject); the result carries the option and
        the validated model (``WaitResult.option``, ``.values``). ``quorum`` (a number, or "all"):
        that many distinct approvers must approve, each vote counted once; the first rejection
        rejects it (``WaitResult.outcome``, ``.votes``). ``notify``, ``due``, ``on_timeout``, the
        reminders and the escalation: see ``Ask``.
        """
        ask = Ask(step_name, event_id, timeout, message, approvers, form, initial, options, quorum, notify, due,
                  on_timeout, remind_every, reminders, escalate_after, escalate_to)  # fmt: skip
        return self.wait_on(ask)

    def wait_on(self, ask: Ask) -> WaitResult:
        """``wait_for_event`` of an ``Ask`` made beforehand (``invoke``'s wait for its child run)."""
        step_name, event_id = ask.step_name, ask.event_id
        opened = ask.step(time.time(), self._execution.workflow.separation_of_duties)  # checked before it counts
        index, recorded = self._next(step_name, StepType.WAIT)
        ex = self._execution
        if recorded is not None and recorded.status is StepStatus.COMPLETED:
            return wait_result(recorded)
        if recorded is None:
            step = opened
            reached = ex.store.wait(ex.run_id, ex.token, index, step, self.pending, take_next=ex.take_next)
            state, resolution = reached.state, reached.resolution
            if state is WaitOutcome.LOST:
                raise LeaseLost(ex.run_id)
            # Fired once the wait is registered, so a page told about it can already show the prompt.
            self._set_current(index, step)
            fire(ex.middlewares, "before_execution", context=self, step_name=step_name)
            if state is WaitOutcome.REFUSED:
                principal, reason = resolution
                warning = f"a decision by {principal!r} kept for {event_id!r} was refused ({reason}): still waiting"
                ex.log_step(step_name, "refused", level=logging.WARNING)
                fire(ex.middlewares, "on_warning", context=self, warning=warning)
                state = WaitOutcome.WAITING
            if state is WaitOutcome.WAITING:
                if step.child is None:  # a wait for a child run tells nobody: nobody decides it
                    fire(ex.middlewares, "ask_opened", context=self, index=index, step=step)
                ex.log_step(step_name, "waiting")
                fire(ex.middlewares, "on_info", context=self, info=f"waiting for event {event_id!r}")
                raise Suspend(step_name, reached.handed)
        else:
            # Resumed: the notify (or the timeout) left its resolution on the run.
            step = recorded
            resolution = ex.claim.resolutions.get(index)
            if resolution is None:
                raise RuntimeError(f"wait {step_name!r} was resumed without a resolution")
        resumed(resolution, step.started_at)  # before it is applied: notify -> resume, ask -> decision
        apply_resolution(step, resolution)
        self._record(index, step, resolved=True)
        ex.log_step(step_name, "timeout" if resolution.get("timeout") else "completed")
        fire(ex.middlewares, "after_execution", context=self, step_name=step_name, result=step.result)
        return wait_result(step)

    def parallel(self, *branches: Ask | Task, resume: Resume | str = Resume.ALL) -> tuple[Any, ...]:
        """Open every ``Ask`` at once, run each ``Task`` beside them, and return their results in order.

        The run resumes when every ask is answered (``resume="all"``), or also at the first answer
        that does not approve (``"first_rejection"``: a rejection, a timeout, a quorum not met), the
        asks still open then withdrawn (``WaitResult.withdrawn``). Each ask keeps its own event id,
        approvers, form, quorum and deadline; each branch is a step of its own, in the order given.
        """
        return run_parallel(self, branches, Resume(resume))

    def sleep(self, step_name: str, duration: Duration) -> None:
        """Pause the run for ``duration``, holding no worker."""
        seconds = parse_duration(duration)
        self._sleep(step_name, lambda now: now + seconds)

    def sleep_until(self, step_name: str, when: Instant) -> None:
        """Pause the run until ``when`` (an aware datetime, ISO 8601 text, or Unix seconds), holding no worker.

        A time already past ends the sleep at once, as Upstash's ``sleepUntil`` does.
        """
        at = instant(when)
        self._sleep(step_name, lambda now: at)

    def invoke(self, step_name: str, workflow: str, payload: Any = None, *, timeout: Duration = "7d") -> InvokeResult:
        """Start a run of ``workflow`` with ``payload`` and wait for its end, holding no worker.

        Returns its ``InvokeResult``: its result (or error) as ``body``, ``is_failed``, ``is_canceled``.
        The child starts once, however often this step is replayed or retried; child runs nest at
        most ``HITL_MAX_INVOKE_DEPTH`` deep.
        """
        return invoke(self, step_name, workflow, payload, timeout)

    def cancel(self) -> NoReturn:
        """Cancel this run now: it ends cancelled, its steps so far kept; nothing after this call runs."""
        raise CancelRun(self.workflow_run_id)

    def _sleep(self, step_name: str, wake_at: Callable[[float], float]) -> None:
        """A sleep step: parked until ``wake_at(now)``, computed when the step is first reached."""
        index, recorded = self._next(step_name, StepType.SLEEP)
        ex = self._execution
        if recorded is not None and recorded.status is StepStatus.COMPLETED:
            return
        now = time.time()
        if recorded is None and wake_at(now) <= now:  # a time already past: no park, no sweep to wait for
            recorded = Step(step_name, StepType.SLEEP, StepStatus.SLEEPING, now, deadline=now)
        elif recorded is None:
            step = Step(step_name, StepType.SLEEP, StepStatus.SLEEPING, now, deadline=wake_at(now))
            self.pending.add(index, step)
            parked = ex.store.park(ex.run_id, ex.token, step.deadline or now, self.pending, take_next=ex.take_next)
            if not parked.taken:
                raise LeaseLost(ex.run_id)
            self._set_current(index, step)
            fire(ex.middlewares, "before_execution", context=self, step_name=step_name)
            raise Suspend(step_name, parked.handed)
        due_at = recorded.deadline or now
        if due_at > now:
            parked = ex.store.park(ex.run_id, ex.token, due_at, self.pending, take_next=ex.take_next)
            if not parked.taken:
                raise LeaseLost(ex.run_id)
            raise Suspend(step_name, parked.handed)
        recorded.status, recorded.finished_at = StepStatus.COMPLETED, now
        self._record(index, recorded)
        fire(ex.middlewares, "after_execution", context=self, step_name=step_name, result=None)

    # -- internals ------------------------------------------------------------------------
    def _next(self, step_name: str, kind: StepType) -> tuple[int, Step | None]:
        if not isinstance(step_name, str) or not step_name:
            raise ValueError("step_name must be a non-empty string")
        index = self._position
        self._position += 1
        recorded = self._steps[index] if index < len(self._steps) else None
        if recorded is not None and (recorded.name != step_name or recorded.type is not kind):
            raise NonDeterminism(
                f"workflow {self.workflow_name!r} is not deterministic: step {index + 1} was recorded as "
                f"{recorded.type.value} {recorded.name!r} but this execution reached "
                f"{kind.value} {step_name!r}"
            )
        return index, recorded

    def _set_current(self, index: int, step: Step) -> None:
        self.current_index, self.current_step = index, step

    def _record(self, index: int, step: Step, *, resolved: bool = False, now: bool = False) -> None:
        """Queue ``step`` for the next write (``now``: write it, and what is queued, at once)."""
        self._set_current(index, step)
        self.pending.add(index, step, resolved=resolved)
        if index < len(self._steps):
            self._steps[index] = step
        else:
            self._steps.append(step)
        if now:
            ex = self._execution
            if not ex.store.write_steps(ex.run_id, ex.token, self.pending):
                raise LeaseLost(ex.run_id)

    def _fail_step(self, index: int, step: Step, exc: BaseException, *, final: bool) -> None:
        step.status = StepStatus.FAILED if final else StepStatus.RETRYING
        step.error, step.finished_at = _describe(exc), time.time()
        self._record(index, step)  # written by the retry's park, the failure's finish, or the next step
        self._execution.log_step(step.name, step.status.value, step.finished_at - step.started_at)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _await(value: Any) -> Any:
    return await value
