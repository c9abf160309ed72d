"""Deciding an approval: the one path that forms and the JSON API share."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..workflow import Client, Run, RunNotFound, StepStatus, StepType
from .views import ApprovalView, approval_view


@dataclass
class Outcome:
    """What happened to a decision: accepted, or refused with a message a person can read."""

    accepted: bool
    message: str
    approval: ApprovalView | None
    status: int


def decide(
    client: Client, run_id: str, index: int, event_data: Any, *, by: str, via: str, comment: str = "", ip: str = ""
) -> Outcome:
    """Resolve the wait at step ``index`` of ``run_id`` once; later attempts learn who decided first."""
    try:
        run = client.get_run(run_id)
    except RunNotFound:
        return Outcome(False, "This run does not exist.", None, 404)
    if not 0 <= index < len(run.steps) or run.steps[index].type is not StepType.WAIT:
        return Outcome(False, "There is no approval at this step.", None, 404)
    step = run.steps[index]
    if step.status is StepStatus.WAITING and not run.status.finished:
        receipt = {"by": by, "at": time.time(), "via": via, "comment": comment or None, "ip": ip or None}
        notified = client.notify(step.event_id or "", event_data, run_id, receipt=receipt, lookback=False)
        if notified:
            run = client.get_run(run_id)
            return Outcome(True, "Decision recorded.", approval_view(run, index, run.steps[index]), 200)
        run = client.get_run(run_id)  # someone else, or the timeout, was first
    return refused(run, index)


def refused(run: Run, index: int) -> Outcome:
    """Why a decision on this prompt can no longer be taken."""
    view = approval_view(run, index, run.steps[index])
    if view.state == "decided":
        message = f"Already decided by {view.decided_by} at {view.decided_at}: {view.decision}."
    elif view.state == "expired":
        message = "This approval expired: the run's deadline passed before a decision."
    else:
        message = f"This run is {run.status.value}; the approval is closed."
    return Outcome(False, message, view, 409)
