"""Several branches at once (``context.parallel``): asks open together, steps run beside them.

Each branch is a step of its own, at the position it is given in. The asks open in one script
(``asks.lua``) before any step beside them runs, so an approver can decide while they run; the
run then waits for the asks (``Resume``) and returns every branch's result in order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .asks import Ask, wait_result
from .middleware import fire
from .models import Step, StepStatus, StepType, apply_resolution
from .outcomes import WaitOutcome
from .signals import LeaseLost, Suspend

if TYPE_CHECKING:
    from .context import WorkflowContext
    from .storage.store import Opened


class Resume(StrEnum):
    """When a run waiting on several asks resumes (``settle``, ``_asks.lua``)."""

    ALL = "all"  # every ask answered (or timed out)
    FIRST_REJECTION = "first_rejection"  # that, or at the first answer that does not approve


@dataclass(frozen=True)
class Task:
    """A step run beside the asks of ``context.parallel``: ``context.run``'s arguments."""

    step_name: str
    fn: Callable[[], Any]


def run_parallel(context: WorkflowContext, branches: Sequence[Ask | Task], resume: Resume) -> tuple[Any, ...]:
    """``context.parallel``: open the asks, run the tasks, wait for the asks; each branch's result in order."""
    asks = [b for b in branches if isinstance(b, Ask)]
    if any(not isinstance(b, Ask | Task) for b in branches):
        raise TypeError("context.parallel takes Ask and Task branches")
    if not asks:
        raise ValueError("context.parallel needs at least one Ask (steps alone run one after another)")
    if len({a.event_id for a in asks}) != len(asks):
        raise ValueError("each Ask of context.parallel needs its own event id")
    ex = context._execution
    now = time.time()
    opened = {id(a): a.step(now, ex.workflow.separation_of_duties) for a in asks}  # every ask checked first
    slots = [context._next(b.step_name, StepType.WAIT if isinstance(b, Ask) else StepType.RUN) for b in branches]
    results: list[Any] = [None] * len(branches)
    ask_at = {k: index for k, (b, (index, _)) in enumerate(zip(branches, slots, strict=True)) if isinstance(b, Ask)}
    steps: dict[int, Step] = {}
    fresh: list[int] = []
    for k, index in ask_at.items():
        recorded = slots[k][1]
        steps[index] = recorded if recorded is not None else opened[id(branches[k])]
        if recorded is None:
            fresh.append(index)
    if all(s.status is StepStatus.COMPLETED for s in steps.values()):  # replayed: answered and recorded
        _run_tasks(context, branches, slots, results)
        return tuple(wait_result(steps[ask_at[k]]) if k in ask_at else r for k, r in enumerate(results))
    resolutions = ex.claim.resolutions
    if not all(index in resolutions for index in steps):  # not resumed yet: open the asks, then wait for them
        resolutions = _open_and_wait(context, branches, slots, results, steps, fresh, resume)
    else:
        _run_tasks(context, branches, slots, results)  # recorded before the run waited: replayed
    for k, index in ask_at.items():
        step = steps[index]
        apply_resolution(step, resolutions[index])
        context._record(index, step, resolved=True)
        result = step.result or {}
        outcome = "withdrawn" if result.get("withdrawn") else "timeout" if result.get("timeout") else "completed"
        ex.log_step(step.name, outcome)
        fire(ex.middlewares, "after_execution", context=context, step_name=step.name, result=step.result)
        results[k] = wait_result(step)
    return tuple(results)


def _open_and_wait(
    context: WorkflowContext,
    branches: Sequence[Ask | Task],
    slots: list[tuple[int, Step | None]],
    results: list[Any],
    steps: dict[int, Step],
    fresh: list[int],
    resume: Resume,
) -> dict[int, Any]:
    """Open the asks (the ``fresh`` ones announced), run the tasks beside them, then wait: the resolutions."""
    ex = context._execution
    asks = [(index, steps[index]) for index in steps]
    tasks_left = any(isinstance(b, Task) and (s[1] is None or s[1].status is not StepStatus.COMPLETED)
                     for b, s in zip(branches, slots, strict=True))  # fmt: skip
    # Every branch not recorded yet is, in order (records fill positions one after another): an ask
    # as it opens, a task as about to run. One recorded already is sent no more: a reassignment may
    # have changed an ask since.
    for branch, (index, recorded) in zip(branches, slots, strict=True):
        if recorded is None:
            started = Step(branch.step_name, StepType.RUN, StepStatus.RUNNING, time.time())
            context._record(index, steps[index] if isinstance(branch, Ask) else started)
    reached = ex.store.open_asks(
        ex.run_id, ex.token, asks, resume.value, context.pending, suspend=not tasks_left, take_next=ex.take_next
    )
    _check(context, reached, steps)
    for index in fresh:  # announced once they are open, so a page told about one can show its form
        context._set_current(index, steps[index])
        fire(ex.middlewares, "before_execution", context=context, step_name=steps[index].name)
        fire(ex.middlewares, "ask_opened", context=context, index=index, step=steps[index])
        ex.log_step(steps[index].name, "waiting")
    if tasks_left:
        _run_tasks(context, branches, slots, results)
        reached = ex.store.open_asks(
            ex.run_id, ex.token, asks, resume.value, context.pending, suspend=True, take_next=ex.take_next
        )
        _check(context, reached, steps)
    if reached.state is WaitOutcome.WAITING:
        first = steps[min(steps)].name
        fire(ex.middlewares, "on_info", context=context, info=f"waiting for {len(steps)} asks")
        raise Suspend(first, reached.handed)
    return reached.resolutions


def _check(context: WorkflowContext, reached: Opened, steps: dict[int, Step]) -> None:
    """Stop when the execution lost the run; warn of each kept decision the policy refused."""
    ex = context._execution
    if reached.state is WaitOutcome.LOST:
        raise LeaseLost(ex.run_id)
    for index, principal, reason in reached.refusals:
        step = steps[index]
        warning = f"a decision by {principal!r} kept for {step.event_id!r} was refused ({reason}): still waiting"
        context._set_current(index, step)
        ex.log_step(step.name, "refused", level=logging.WARNING)
        fire(ex.middlewares, "on_warning", context=context, warning=warning)


def _run_tasks(
    context: WorkflowContext, branches: Sequence[Ask | Task], slots: list[tuple[int, Step | None]], results: list[Any]
) -> None:
    """Run (or replay) each ``Task`` branch at its own position."""
    for k, branch in enumerate(branches):
        if isinstance(branch, Task):
            index, recorded = slots[k]
            results[k] = context._run_step(index, recorded, branch.step_name, branch.fn)
