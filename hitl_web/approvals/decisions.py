"""Deciding a wait: the receipt, the policy's answer in words, and the one call every entry point makes.

Who may decide (approvers, separation of duties, the deadline, already decided) is enforced by the
script that resolves the wait (``_keys.lua``'s ``refusal`` and ``too_late``), so no entry point can
skip it; this module builds the receipt the script stores with the resolution and turns the script's
answer into a status and a sentence a person can read. Forms, the JSON API and the CLI all call it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..engine import (
    Client,
    InvalidDecision,
    Run,
    RunNotFound,
    Step,
    StepStatus,
    StepType,
    Tally,
    UnknownWorkflow,
    get_workflow,
)
from ..engine.forms import options_of
from ..engine.models import Waiter
from ..engine.outcomes import Refusal
from ..engine.receipts import Receipt
from ..metrics import instruments

log = logging.getLogger("hitl_web.decisions")

# HTTP-style statuses, shared by the pages, the API and the CLI's exit code.
OK, KEPT, INVALID, FORBIDDEN, NOT_FOUND, CONFLICT = 200, 202, 400, 403, 404, 409
SIGN_IN = "Sign in as an approver to decide."


@dataclass(frozen=True)
class Decider:
    """Who decides, as the server knows them (session, API token, operator), never as a request body says."""

    name: str
    approver: bool  # signed in as an approver, an API principal, or an operator at the command line
    via: str  # form | api | cli | email-link | slack-link | webhook-link
    ip: str = ""
    link: str = ""  # a one-click link's public id (notifications.links.Link.id), when one decided


@dataclass
class Decision:
    """What happened to one decision on one run's wait: accepted (or kept for later), or refused, and why."""

    accepted: bool
    status: int
    message: str
    run_id: str = ""
    index: int | None = None  # the wait's step, when known
    refusal: Refusal | None = None
    waiter: Waiter | None = None
    invalid: InvalidDecision | None = None  # 400: what the ask's form refused, by field
    tally: Tally | None = None  # a vote counted on a quorum ask that stays open: where its votes stand

    @property
    def counted(self) -> bool:
        """A vote counted on a quorum ask that stays open (accepted, but nothing resumed)."""
        return self.tally is not None


def when(ts: object) -> str:
    """A timestamp as people read it on a receipt (UTC); empty for none, never an error.

    Pages show stored times: one out of datetime's range (years 1-9999), not finite or not a number
    must not take the page down, for everyone, for as long as it is stored.
    """
    if not ts:
        return ""
    if not isinstance(ts, int | float) or ts != ts:  # not a number, or NaN
        return "an unreadable time"
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError, OSError):
        return "after 9999-12-31 UTC" if ts > 0 else "before 0001-01-01 UTC"


def describe_decision(event_data: Any, step: Step | None = None) -> str:
    """The option's label for a typed ask, ``approved`` / ``rejected`` for the guide's data, else JSON."""
    if step is not None and step.form and isinstance(event_data, dict):
        labels = dict((key, label) for key, label in options_of(step))
        option = event_data.get("option")
        return labels.get(option, str(option)) if isinstance(option, str) else "decided"
    if isinstance(event_data, dict) and isinstance(event_data.get("approved"), bool):
        return "approved" if event_data["approved"] else "rejected"
    return json.dumps(event_data, ensure_ascii=False, sort_keys=True)


def receipt_for(decider: Decider, event_data: Any, comment: str = "") -> Receipt:
    """The receipt stored with the resolution: who, when, how, what (the prompt's hash is added on resolve)."""
    extra = {"link": decider.link} if decider.link else {}
    return Receipt(decider.name, time.time(), decider.via, event_data, comment or None, decider.ip or None, extra=extra)


def wait_index(run: Run, event_id: str) -> int | None:
    """The position of the run's latest wait on ``event_id``."""
    found = [i for i, s in enumerate(run.steps) if s.type is StepType.WAIT and s.event_id == event_id]
    return found[-1] if found else None


def shown_approver(name: str) -> str:
    """An entry of a wait's approvers in words (``group:finance`` -> ``members of finance``)."""
    return f"members of {name.removeprefix('group:')}" if name.startswith("group:") else name


def refusal_message(reason: Refusal, run: Run, index: int | None) -> str:
    """The policy's reason in words, naming who decided first when it came too late."""
    step = run.steps[index] if index is not None else None
    if reason is Refusal.NOT_APPROVER:
        names = ", ".join(shown_approver(a) for a in step.approvers or []) if step else ""
        return f"Only {names} may decide this approval." if names else "You may not decide this approval."
    if reason is Refusal.OWN_RUN:
        return "You started this run: someone else must decide it (separation of duties)."
    if reason is Refusal.CHILD_RUN:
        return "This step waits for a child run's result: nobody decides it."
    result = step.result if step is not None and isinstance(step.result, dict) else {}
    if reason is Refusal.EXPIRED or result.get("timeout"):
        return "This approval expired: the run's deadline passed before a decision."
    if result.get("withdrawn"):
        return "This approval was withdrawn: another approval of the run did not approve, so it went on without it."
    if step is not None and step.status is StepStatus.COMPLETED:
        receipt = step.receipt or {}
        by = receipt.get("by") or "someone (no receipt)"
        at = when(receipt.get("at") or step.finished_at)
        return f"Already decided by {by} at {at}: {describe_decision(result.get('event_data'), step)}."
    if reason is Refusal.FORM:
        return "This approval takes a decision made with its own form."
    if reason is Refusal.ALREADY_VOTED:
        return "You have voted on this approval already: each approver's vote counts once."
    if reason is Refusal.EARLY_VOTE:
        return "This approval counts votes only once it is open."
    return f"This run is {run.status.value}; the approval is closed."


def _explain(client: Client, run_id: str, event_id: str, reason: Refusal, waiter: Waiter | None) -> Decision:
    """A refusal, read back after the script so that it names who was first."""
    try:
        run = client.get_run(run_id)
    except RunNotFound:
        return Decision(False, NOT_FOUND, f"There is no run {run_id}.", run_id)
    index = wait_index(run, event_id)
    status = FORBIDDEN if reason in {Refusal.NOT_APPROVER, Refusal.OWN_RUN, Refusal.CHILD_RUN} else CONFLICT
    return Decision(False, status, refusal_message(reason, run, index), run_id, index, reason, waiter)


def decide(
    client: Client,
    decider: Decider,
    event_id: str,
    event_data: Any,
    *,
    run_id: str | None = None,
    comment: str = "",
    open_mode: bool = False,
    lookback: bool = True,
) -> list[Decision]:
    """Decide the waits on ``event_id`` (only ``run_id``'s, if given), each once, through the policy.

    One decision per run: resolved, refused (403: not this principal; 409: expired, decided, closed)
    or, with ``run_id`` and ``lookback``, kept (202) until the run reaches its wait, where the policy
    is applied again. Without a run id and nobody waiting, nothing happens: ``[]`` (Upstash's semantics).
    """
    if not open_mode and not decider.approver:
        return [Decision(False, FORBIDDEN, SIGN_IN, run_id or "")]
    receipt = receipt_for(decider, event_data, comment)
    resolution = client.decide(event_id, event_data, run_id, receipt=receipt, lookback=lookback)
    decisions = [Decision(True, OK, "Decision recorded.", w.run_id, waiter=w) for w in resolution.waiters]
    decisions += [_counted(w, tally) for w, tally in resolution.counted]
    for w, reason in resolution.refused:
        typed = _waiting_ask(client, w.run_id, event_id) if reason is Refusal.FORM else None
        if typed is None:
            decisions.append(_explain(client, w.run_id, event_id, reason, w))
        else:  # a typed ask: the same decision again, checked against its form this time
            decisions.append(_decide_ask(client, decider, w.run_id, *typed, event_data, comment))
    decisions.sort(key=lambda d: not d.accepted)
    logged(decider, decisions)
    if run_id and not decisions:
        if resolution.kept:
            return [Decision(True, KEPT, "Decision kept: the run has not reached this wait yet.", run_id)]
        return [_explain(client, run_id, event_id, Refusal.CLOSED, None)]  # or 404: no such run
    return decisions


def _waiting_ask(client: Client, run_id: str, event_id: str) -> tuple[int, Step] | None:
    """The run's open wait on ``event_id`` (its index and step), or None."""
    try:
        run = client.get_run(run_id)
    except RunNotFound:
        return None
    index = wait_index(run, event_id)
    if index is None or run.steps[index].status is not StepStatus.WAITING:
        return None
    return index, run.steps[index]


def _decide_ask(
    client: Client, decider: Decider, run_id: str, index: int, step: Step, event_data: Any, comment: str
) -> Decision:
    """Decide one open ask of ``run_id`` (its step at ``index``), checking the decision against its form."""
    event_id = step.event_id or ""
    try:
        resolution = client.decide(
            event_id, event_data, run_id, receipt=receipt_for(decider, event_data, comment), lookback=False, ask=step
        )
    except InvalidDecision as exc:
        return Decision(False, INVALID, f"Not decided: {exc}.", run_id, index, invalid=exc)
    if resolution.waiters:
        return Decision(True, OK, "Decision recorded.", run_id, index, waiter=resolution.waiters[0])
    if resolution.counted:
        decision = _counted(*resolution.counted[0])
        decision.index = index
        return decision
    waiter, reason = resolution.refused[0] if resolution.refused else (None, Refusal.CLOSED)
    decision = _explain(client, run_id, event_id, reason, waiter)
    decision.index = index
    return decision


def _counted(waiter: Waiter, tally: Tally) -> Decision:
    """A vote counted on a quorum ask that stays open."""
    return Decision(True, OK, f"Vote recorded: {tally.describe()}.", waiter.run_id, waiter=waiter, tally=tally)


def _separated(workflow: str) -> bool:
    """Whether ``workflow`` keeps its starter from deciding (strict when it is not registered here)."""
    try:
        return get_workflow(workflow).separation_of_duties
    except UnknownWorkflow:
        return True


def decide_step(
    client: Client,
    decider: Decider,
    run_id: str,
    index: int,
    event_data: Callable[[Step], Any],
    *,
    comment: str,
    open_mode: bool,
) -> Decision:
    """Decide the wait at step ``index`` of ``run_id`` (the run page's form) with ``event_data(its step)``."""
    try:
        run = client.get_run(run_id)
    except RunNotFound:
        return Decision(False, NOT_FOUND, "This run does not exist.", run_id, index)
    if not 0 <= index < len(run.steps) or run.steps[index].type is not StepType.WAIT:
        return Decision(False, NOT_FOUND, "There is no approval at this step.", run_id, index)
    step = run.steps[index]
    if step.status is not StepStatus.WAITING:
        # This form's wait is over: never let it decide a later wait on the same event id instead.
        reason = Refusal.DECIDED if step.status is StepStatus.COMPLETED else Refusal.CLOSED
        return Decision(False, CONFLICT, refusal_message(reason, run, index), run_id, index, reason)
    if step.separation_of_duties is None and _separated(run.workflow) and run.triggered_by == decider.name:
        # A wait registered before its record carried the flag (key "o"): the registry says.
        reason = Refusal.OWN_RUN
        return Decision(False, FORBIDDEN, refusal_message(reason, run, index), run_id, index, reason)
    if not open_mode and not decider.approver:
        return Decision(False, FORBIDDEN, SIGN_IN, run_id, index)
    decision = _decide_ask(client, decider, run_id, index, step, event_data(step), comment)
    logged(decider, [decision], step.name)
    return decision


def logged(decider: Decider, decisions: list[Decision], step: str = "") -> None:
    """A log line per decision taken or refused: run, step, outcome, and who (``principal``), through what."""
    decided = sum(1 for d in decisions if d.accepted and not d.counted and d.waiter is not None)
    if decided:
        instruments().asks_decided.inc(decided)
    if not log.isEnabledFor(logging.INFO):
        return
    for d in decisions:
        name = step or (d.waiter.step_name if d.waiter is not None else "")
        outcome = "decided" if d.accepted and not d.counted else "counted" if d.accepted else "refused"
        why = f" reason={d.refusal.value}" if d.refusal is not None else ""
        log.info("run=%s step=%s status=%s principal=%s via=%s%s", d.run_id, name, outcome, decider.name, decider.via,
                 why)  # fmt: skip
