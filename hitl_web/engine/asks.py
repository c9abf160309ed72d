"""An ask: what a wait shows its approvers and takes from them, as its step records it, and what it returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from .durations import Duration, parse_duration
from .errors import ResultNotSerializable
from .forms import APPROVE, OPTIONS_ONLY, REJECT, Options, decided_values, decision_data, form_path, normalize_options
from .models import Step, StepStatus, StepType, dumps
from .outcomes import WaitResult
from .quorum import QuorumOutcome, Tally, approves, quorum_of


def filed_under(step: Step) -> str:
    """Whose inboxes an open ask enters, as wait.lua takes them: its approvers as JSON, '' for anyone.

    A wait for a child run (``Step.child``) enters none: nobody decides it.
    """
    if step.child:
        return "[]"
    return dumps(step.approvers) if step.approvers else ""


def to_json_value(value: Any, what: str) -> Any:
    """``value`` as it will read back from storage, or ``ResultNotSerializable`` naming ``what``."""
    try:
        return json.loads(dumps(value))
    except (TypeError, ValueError) as exc:
        raise ResultNotSerializable(f"{what} returned a value that is not JSON-serialisable: {exc}") from None


@dataclass(frozen=True)
class Ask:
    """One wait for a decision: ``wait_for_event``'s arguments, and one branch of ``context.parallel``.

    ``message`` is what an approver is shown (default: "Waiting for <step name>"); ``approvers``
    limits who may decide it (users, ``group:<name>``; default: any approver). A typed ask: the
    decision is ``form`` (a pydantic model, prefilled from ``initial``) and one of ``options``.
    ``quorum`` (a number, or "all"): that many distinct approvers must approve. ``notify``: the
    notifiers told of it (names in HITL_NOTIFIERS; default: its workflow's, or every one). ``due``:
    when it is due (the inbox sorts and marks by it), before its ``timeout``. ``on_timeout``: what it
    decides when nobody decided in time (an option, e.g. "reject", or ``{"option", "values"}``).
    ``remind_every`` (at most ``reminders`` times) re-sends its notifications while it is open;
    ``escalate_after``, ``escalate_to`` (users, ``group:<name>``) join its approvers (rungs.py).
    """

    step_name: str
    event_id: str
    timeout: Duration = "7d"
    message: str | None = None
    approvers: list[str] | None = None
    form: type[BaseModel] | None = None
    initial: dict[str, Any] | BaseModel | None = None
    options: Options | None = None
    quorum: int | str | None = None
    notify: list[str] | None = None
    due: Duration | None = None
    on_timeout: str | dict[str, Any] | None = None
    remind_every: Duration | None = None
    reminders: int = 3
    escalate_after: Duration | None = None
    escalate_to: list[str] | None = None
    child: str | None = None  # a wait for this child run's end (context.invoke): nobody decides it

    def step(self, now: float, separation_of_duties: bool) -> Step:
        """The ask's waiting step, opened at ``now``; ``ValueError`` for a bad argument."""
        seconds = parse_duration(self.timeout)
        if not isinstance(self.event_id, str) or not self.event_id:
            raise ValueError("event_id must be a non-empty string")
        due = parse_duration(self.due) if self.due is not None else None
        if due is not None and due > seconds:
            raise ValueError(f"an ask due after its timeout ({self.due} > {self.timeout}) is never due")
        step = Step(
            self.step_name,
            StepType.WAIT,
            StepStatus.WAITING,
            now,
            event_id=self.event_id,
            deadline=now + seconds,
            message=self.message if self.message is not None else f"Waiting for {self.step_name}",
            approvers=list(self.approvers) if self.approvers else None,
            separation_of_duties=True if separation_of_duties else None,
            quorum=quorum_of(self.quorum, self.approvers),
            notify=list(self.notify) if self.notify is not None else None,
            due=now + due if due is not None else None,
            child=self.child,
            **typed_ask(self.form, self.initial, self.options),
        )
        if self.on_timeout is not None:
            step.on_timeout = default_outcome(step, self.on_timeout)
        if self.remind_every is not None:
            step.remind_every, step.reminders = parse_duration(self.remind_every), max(int(self.reminders), 1)
        if (self.escalate_after is None) != (not self.escalate_to):
            raise ValueError("escalate_after and escalate_to go together: when, and to whom")
        if self.escalate_after is not None:
            step.escalate_after, step.escalate_to = parse_duration(self.escalate_after), list(self.escalate_to or [])
        return step


def ladder(step: Step) -> str:
    """The rungs an opening ask schedules (rungs.py), as ``schedule_rungs`` reads them: "r1 <due> e <due>", or ''."""
    parts = []
    if step.remind_every:
        parts.append(f"r1 {step.started_at + step.remind_every!r}")
    if step.escalate_after is not None and step.escalate_to:
        parts.append(f"e {step.started_at + step.escalate_after!r}")
    return " ".join(parts)


def default_outcome(step: Step, outcome: str | dict[str, Any]) -> str:
    """``on_timeout`` as the sweep resolves it (``Step.on_timeout``): the decision's data, checked as a decision is.

    An option key (``"approve"``, ``"reject"``, a typed ask's own; with the values its run proposed)
    or ``{"option": ..., "values": {...}}``; ``ValueError`` or ``InvalidDecision`` when it is not one.
    """
    raw = {"option": outcome, "values": step.initial or {}} if isinstance(outcome, str) else outcome
    if not step.form:  # the guide's ask: Approve or Reject
        if raw.get("option") not in {APPROVE, REJECT}:
            raise ValueError("on_timeout of an ask without a form is 'approve' or 'reject'")
        data: Any = {"approved": raw["option"] == APPROVE}
    else:
        data = decision_data(step, raw)
    decided: dict[str, Any] = {"event_data": data}
    if not approves(data):  # as client.decide marks a rejection: several asks until the first one read it
        decided["verdict"] = "reject"
    return dumps(decided)


def wait_result(step: Step) -> WaitResult:
    """What a resolved ask's step returns to the workflow."""
    result = step.result or {}
    data, timeout = result.get("event_data"), bool(result.get("timeout"))
    tally = Tally.from_dict(result.get("quorum"))
    votes = result.get("votes") if step.quorum else None
    outcome = tally.outcome if tally is not None else None
    withdrawn, defaulted = bool(result.get("withdrawn")), bool(result.get("defaulted"))
    if not step.form or timeout or withdrawn or not isinstance(data, dict) or outcome is QuorumOutcome.UNREACHABLE:
        return WaitResult(data, timeout, votes=votes, outcome=outcome, withdrawn=withdrawn, defaulted=defaulted)
    values = decided_values(step, data)
    return WaitResult(
        data, timeout, option=data.get("option"), values=values, votes=votes, outcome=outcome, defaulted=defaulted
    )


def typed_ask(
    form: type[BaseModel] | None, initial: dict[str, Any] | BaseModel | None, options: Options | None
) -> dict[str, Any]:
    """A typed ask's step fields (``Step.form``, ``initial``, ``options``); none for the guide's plain ask."""
    if form is None and options is None:
        if initial is not None:
            raise ValueError("initial values need a form")
        return {}
    stored = normalize_options(options)
    if form is None:
        return {"form": OPTIONS_ONLY, "options": stored}
    proposed: dict[str, Any] | None = None
    if isinstance(initial, BaseModel):
        proposed = initial.model_dump(mode="json", by_alias=True)
    elif initial is not None:
        try:  # as the form will show and store them (a Decimal as text), when they are a whole decision
            full = form.model_validate(initial).model_dump(mode="json", by_alias=True)
            proposed = {k: full[k] for k in initial if k in full} or full
        except ValidationError:  # a partial proposal: the approver completes it
            proposed = to_json_value(dict(initial), "initial")
    return {"form": form_path(form), "initial": proposed, "options": stored}
