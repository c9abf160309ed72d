"""Deciding an approval: who may, and the one path that records it (forms and the JSON API share it)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from ..workflow import Client, Run, RunNotFound, Step, StepStatus, StepType, UnknownWorkflow, get_workflow
from .views import ApprovalView, approval_view


@dataclass
class Outcome:
    """What happened to a decision: accepted, or refused with a message a person can read."""

    accepted: bool
    message: str
    approval: ApprovalView | None
    status: int


@dataclass(frozen=True)
class Decider:
    """Who decides, as the server knows them (session or API token), never as a request body says."""

    name: str
    approver: bool  # signed in as an approver, or an API principal
    via: str
    ip: str = ""


def prompt_hash(step: Step) -> str:
    """A fingerprint of what the approver was shown: message, event, approvers and deadline."""
    shown = json.dumps([step.message, step.event_id, step.approvers, step.deadline], sort_keys=True)
    return hashlib.sha256(shown.encode()).hexdigest()


def refusal(run: Run, step: Step, decider: Decider, open_mode: bool) -> str | None:
    """Why ``decider`` may not decide this wait, or None when they may."""
    if not open_mode and not decider.approver:
        return "Sign in as an approver to decide."
    if step.approvers and decider.name not in step.approvers:
        return f"Only {', '.join(step.approvers)} may decide this approval."
    try:
        sod = get_workflow(run.workflow).separation_of_duties
    except UnknownWorkflow:
        sod = True  # unknown rules: be strict
    if sod and run.triggered_by and run.triggered_by == decider.name:
        return "You started this run: someone else must decide it (separation of duties)."
    return None


def decide(
    client: Client, run_id: str, index: int, event_data: Any, decider: Decider, *, open_mode: bool, comment: str = ""
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
        reason = refusal(run, step, decider, open_mode)
        if reason is not None:
            return Outcome(False, reason, approval_view(run, index, step), 403)
        receipt = {
            "by": decider.name,
            "at": time.time(),
            "via": decider.via,
            "decision": event_data,
            "comment": comment or None,
            "ip": decider.ip or None,
            "prompt_sha256": prompt_hash(step),
        }
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
