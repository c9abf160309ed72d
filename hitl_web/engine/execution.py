"""One execution of a run: replays its recorded steps and runs the next ones inline, until it ends."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis

from ..metrics import instruments
from ..settings import Settings
from .context import WorkflowContext, to_json_value
from .errors import (
    NonDeterminism,
    NonRetryableError,
    ResultNotSerializable,
    StepError,
    UnknownWorkflow,
)
from .invocations import tell_parent
from .journal import Journal, JournalBounds
from .middleware import fire
from .models import RunStatus
from .outages import outage
from .outcomes import NotClaimed
from .progress import Progress
from .registry import Workflow, get_workflow, load_workflows, middlewares_for
from .signals import CancelRun, LeaseLost, RetryStep, Suspend
from .storage.keys import WAKE_UP as WAKE_UP
from .storage.keys import run_of_wake_up as run_of_wake_up
from .storage.keys import wake_up_id
from .storage.store import Claim, Handed, Pending, RunStore, new_token
from .worker.queues import run_queue


def count_step(status: str) -> None:
    """A step's transition in the metrics: by status, and an ask opened or timed out."""
    found = instruments()
    found.steps.labels(status).inc()
    if status == "waiting":
        found.asks_opened.inc()
    elif status == "timeout":
        found.asks_timed_out.inc()


log = logging.getLogger("hitl_web.runs")

# Errors that retrying cannot fix: the run fails at once.
FINAL_ERRORS = (StepError, NonRetryableError, NonDeterminism, ResultNotSerializable)


class Engine:
    """What a process needs to execute runs: the store, its journal, the queue and the settings."""

    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        self.settings = settings
        self.redis = connection
        self.queue = run_queue(settings.queue_name, connection)
        bounds = JournalBounds(max_len=settings.journal_max_len, ttl_seconds=settings.journal_ttl)
        self.journal = Journal(connection, settings.key_prefix, bounds)
        self.store = RunStore(connection, settings, (self.queue.key, self.queue.redis_queues_keys), self.journal)
        # Every execution's transitions go to its run's journal, before any user middleware hears of them.
        self.progress = Progress(self.journal)
        # Listeners the process adds after the engine's own (a worker's notifications, notifications/).
        self.listeners: list[Any] = []
        # Run id and token of the execution in progress in this process, for lease renewal.
        self.current: tuple[str, str] | None = None
        load_workflows(settings.workflow_modules)

    def enqueue(self, run_id: str) -> None:
        """Queue a wake-up call for the run on the RQ queue; if it is lost, the run's lease brings it back.

        The call is a job id naming the run (see ``worker.RunJob``): no job hash, one script (``wake``).
        """
        self.store.wake(run_id)

    def still_queued(self, run_id: str, nonce: str) -> bool:
        """True while the run's wake-up call ``nonce`` waits in the queue (a busy queue, not a lost job)."""
        return bool(nonce) and self.redis.lpos(self.queue.key, wake_up_id(run_id, nonce)) is not None


class Execution:
    """One pass over a run's workflow function, holding the run's lease while it lasts.

    ``claimed`` is a claim already taken (a hand-off, or with the dequeue); otherwise the execution
    claims the run itself. With ``take_next`` (a worker with time left), the write that ends the
    execution also claims the next queued run, which ``execute`` returns.
    """

    def __init__(
        self,
        engine: Engine,
        run_id: str,
        wake_up: tuple[str, str] = ("", ""),
        *,
        claimed: Handed | None = None,
        take_next: bool = False,
    ) -> None:
        self.engine = engine
        self.wake_up = wake_up
        self.store = engine.store
        self.run_id = run_id
        self.token = claimed.token if claimed is not None else new_token()
        self.claimed: Claim | None = claimed.claim if claimed is not None else None
        self.take_next = take_next
        self.workflow: Workflow
        self.claim: Claim
        self.middlewares: list[Any] = []

    def log_step(self, step: str, status: str, duration: float | None = None, level: int = logging.INFO) -> None:
        """One structured line for a step's transition (completed steps log at DEBUG: runs log their end)."""
        count_step(status)
        if not log.isEnabledFor(level):
            return
        log.log(
            level,
            "run=%s workflow=%s step=%s status=%s%s",
            self.run_id,
            self.workflow.name,
            step,
            status,
            f" duration_ms={duration * 1000:.1f}" if duration is not None else "",
        )

    def execute(self) -> Handed | None:
        """Claim the run, replay and continue it, and record how it ended; the next run the end claimed."""
        claim = self.claimed or self.store.claim(self.run_id, self.token, self.wake_up)
        if isinstance(claim, NotClaimed):
            log.debug("run=%s not executed: %s", self.run_id, claim)
            return None
        self.claim = claim
        try:
            self.workflow = get_workflow(claim.workflow)
        except UnknownWorkflow as exc:
            # Not registered in this process (a deploy removed it): fail it rather than loop on it.
            log.error("run=%s status=failed error=%r", self.run_id, str(exc))
            if claim.parent:
                tell_parent(self.store, self.run_id, claim.parent, str(exc), failed=True)
            ended = self.store.finish(
                self.run_id, self.token, RunStatus.FAILED, Pending(), error=str(exc), take_next=self.take_next
            )
            return ended.handed
        self.middlewares = [self.engine.progress, *self.engine.listeners, *middlewares_for(self.workflow)]
        context = WorkflowContext(self, self.workflow.load_payload(claim.payload))
        self.engine.current = (self.run_id, self.token)
        started = time.monotonic()
        try:
            if not claim.started:
                log.info("run=%s workflow=%s status=started", self.run_id, self.workflow.name)
                instruments().runs_started.labels(self.workflow.name).inc()
                fire(self.middlewares, "run_started", context=context)
            result = to_json_value(self.workflow.fn(context), f"workflow {self.workflow.name!r}")
        except Suspend as suspended:
            return suspended.handed
        except CancelRun:
            return self._cancel(context)
        except LeaseLost:
            log.warning("run=%s execution %s lost the run (cancelled, or taken over)", self.run_id, self.token)
            return None
        except RetryStep as retry:
            return self._retry(context, retry.step_name, retry.attempt, retry.error)
        except FINAL_ERRORS as exc:
            return self._fail(context, exc)
        except Exception as exc:
            if outage(exc) is not None:
                # Redis is out, which is no fault of the workflow's and costs it no attempt: the run
                # keeps its lease, and once that expires a sweep hands the run to a new job.
                raise
            # An error in the workflow body, outside any step: retried like a step.
            attempt = claim.attempts + 1
            if attempt > self.workflow.retry.retries:
                return self._fail(context, exc)
            return self._retry(context, "(workflow)", attempt, exc, run_attempts=attempt)
        finally:
            self.engine.current = None
        if claim.parent:
            tell_parent(self.store, self.run_id, claim.parent, result)
        # Hooks fire only for the execution that recorded the outcome: once, and after the state
        # they announce is visible to every reader.
        ended = self.store.finish(
            self.run_id, self.token, RunStatus.COMPLETED, context.pending, result=result, take_next=self.take_next
        )
        if ended.taken:
            instruments().runs_finished.labels(self.workflow.name, "completed").inc()
            log.info(
                "run=%s workflow=%s status=completed duration_ms=%.1f",
                self.run_id,
                self.workflow.name,
                (time.monotonic() - started) * 1000,
            )
            fire(self.middlewares, "run_completed", context=context, result=result)
        return ended.handed

    def _retry(
        self,
        context: WorkflowContext,
        step: str,
        attempt: int,
        error: BaseException,
        run_attempts: int | None = None,
    ) -> Handed | None:
        delay = self.workflow.retry.delay_before(attempt)
        warning = f"{step} failed (attempt {attempt}), retrying in {delay:g}s: {type(error).__name__}: {error}"
        log.warning(
            "run=%s workflow=%s step=%s status=retrying attempt=%d", self.run_id, self.workflow.name, step, attempt
        )
        fire(self.middlewares, "on_warning", context=context, warning=warning)
        wake_at = time.time() + delay
        parked = self.store.park(
            self.run_id, self.token, wake_at, context.pending, attempts=run_attempts, take_next=self.take_next
        )
        return parked.handed

    def _cancel(self, context: WorkflowContext) -> Handed | None:
        """The workflow cancelled its own run (``context.cancel()``)."""
        if self.claim.parent:
            tell_parent(self.store, self.run_id, self.claim.parent, None, canceled=True)
        why = "cancelled by the workflow (context.cancel)"
        ended = self.store.finish(
            self.run_id, self.token, RunStatus.CANCELLED, context.pending, error=why, take_next=self.take_next
        )
        if ended.taken:
            log.info("run=%s workflow=%s status=cancelled", self.run_id, self.workflow.name)
            instruments().runs_finished.labels(self.workflow.name, "cancelled").inc()
            fire(self.middlewares, "run_cancelled", context=context)
        return ended.handed

    def _fail(self, context: WorkflowContext, error: BaseException) -> Handed | None:
        message = f"{type(error).__name__}: {error}"
        if self.claim.parent:
            tell_parent(self.store, self.run_id, self.claim.parent, message, failed=True)
        ended = self.store.finish(
            self.run_id, self.token, RunStatus.FAILED, context.pending, error=message, take_next=self.take_next
        )
        if not ended.taken:
            return ended.handed
        log.error("run=%s workflow=%s status=failed error=%r", self.run_id, self.workflow.name, message)
        instruments().runs_finished.labels(self.workflow.name, "failed").inc()
        if self.workflow.failure_function is not None:
            try:
                self.workflow.failure_function(context=context, error=error)
            except Exception:
                log.exception("run=%s failure function raised", self.run_id)
        fire(self.middlewares, "on_error", context=context, error=error)
        return ended.handed
