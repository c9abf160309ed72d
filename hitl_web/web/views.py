"""What the templates show: runs, steps and approval prompts turned into plain view objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..approvals.decisions import describe_decision, shown_approver, when
from ..engine import Client, InvalidDecision, QuorumOutcome, Run, RunStatus, Step, StepStatus, StepType, Tally
from ..engine.forms import changes, form_model, options_of
from .payload_form import FormField, form_fields
from .viewer import EVERYONE, Viewer, not_offered

VALUE_PREFIX = "v."  # a decision form's input names: "v.amount" never meets "decision" or "comment"

fmt_time = when  # one way to show a time, on pages and in refusals


def as_json_text(value: Any) -> str:
    """A result as readable JSON text (escaped later by the template, like any untrusted text)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass
class ApprovalView:
    """An approval prompt: pending, decided (by whom, what, when), expired or closed."""

    run_id: str
    index: int
    event_id: str
    message: str
    deadline: float | None
    state: str  # pending | decided | expired | withdrawn | closed
    decision: str = ""
    decided_by: str = ""
    decided_at: str = ""
    comment: str = ""
    via: str = ""
    prompt_sha256: str = ""
    # A typed ask: its options as (key, label), its form's controls (none with options only) and the
    # form's own errors; once decided, what the approver changed of the proposal and the values.
    options: list[tuple[str, str]] = field(default_factory=list)
    fields: tuple[FormField, ...] = ()
    form_errors: list[str] = field(default_factory=list)
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    values: list[tuple[str, str]] = field(default_factory=list)
    draft_comment: str = ""  # a refused form's comment, shown again
    # A quorum ask: where its votes stand ("1 of 2 approvals"), each vote as (who, how, when), and
    # who may still vote (open asks).
    tally: str = ""
    votes: list[tuple[str, str, str]] = field(default_factory=list)
    may_still_vote: str = ""
    not_offered: str = ""  # an open ask whose form this viewer is not offered: why (see viewer.py)
    reassignments: list[tuple[str, str, str, str]] = field(default_factory=list)  # by, at, to whom, why
    reassignable: bool = False  # an open ask with named approvers: they may give it to others

    @property
    def typed(self) -> bool:
        """True for an ask with its own form or options."""
        return bool(self.options)

    @property
    def field_prefix(self) -> str:
        """Before each of the form's input names, beside the prompt's own controls (decision, comment)."""
        return VALUE_PREFIX

    @property
    def dom_id(self) -> str:
        """Stable element id of this prompt."""
        return f"approval-{self.index}"

    @property
    def deadline_text(self) -> str:
        """When the prompt expires."""
        return fmt_time(self.deadline)


@dataclass
class StepView:
    """One row of the steps table."""

    index: int
    name: str
    type: str
    status: str
    result: str
    error: str
    started_at: str
    duration: str
    attempts: int

    @property
    def dom_id(self) -> str:
        """Stable element id of this row."""
        return f"step-{self.index}"


@dataclass
class RunView:
    """A run as its page shows it."""

    run_id: str
    workflow: str
    status: str
    created_at: str
    finished: bool
    outcome: str  # approved / rejected / timeout / success / failed / cancelled, or ""
    result: str
    error: str
    steps: list[StepView]
    approvals: list[ApprovalView]
    controls: bool = False  # the viewer may cancel it, or resume or restart it once failed (run_controls.py)

    @property
    def pending(self) -> list[ApprovalView]:
        """Prompts still waiting for a decision."""
        return [a for a in self.approvals if a.state == "pending"]


def step_view(index: int, step: Step) -> StepView:
    """A stored step as a row."""
    duration = ""
    if step.finished_at and step.started_at:
        duration = f"{(step.finished_at - step.started_at) * 1000:.0f} ms"
    result = ""
    if step.status is StepStatus.COMPLETED and step.type is not StepType.SLEEP:
        result = as_json_text(step.result)
    return StepView(
        index=index,
        name=step.name,
        type=step.type.value,
        status=step.status.value,
        result=result,
        error=step.error or "",
        started_at=fmt_time(step.started_at),
        duration=duration,
        attempts=step.attempts,
    )


def approval_view(
    run: Run,
    index: int,
    step: Step,
    submitted: Mapping[str, str] | None = None,
    invalid: InvalidDecision | None = None,
    viewer: Viewer = EVERYONE,
) -> ApprovalView:
    """A wait step as ``viewer``'s approval prompt (``submitted``, ``invalid``: a typed form coming back refused)."""
    view = ApprovalView(
        run_id=run.run_id,
        index=index,
        event_id=step.event_id or "",
        message=step.message or f"Waiting for {step.name}",
        deadline=step.deadline,
        state="pending",
    )
    result = step.result if isinstance(step.result, dict) else {}
    if step.status is StepStatus.COMPLETED and result.get("timeout"):
        view.state = "expired"
    elif step.status is StepStatus.COMPLETED and result.get("withdrawn"):
        view.state = "withdrawn"  # one of several asks, closed when another did not approve
    elif step.status is StepStatus.COMPLETED:
        receipt = step.receipt or {}
        view.state = "decided"
        view.decision = describe_decision(result.get("event_data"), step)
        view.decided_by = str(receipt.get("by") or "someone (no receipt)")
        view.decided_at = fmt_time(receipt.get("at") or step.finished_at)
        view.comment = str(receipt.get("comment") or "")
        view.via = str(receipt.get("via") or "")
        view.prompt_sha256 = str(receipt.get("prompt_sha256") or "")
    elif run.status.finished:
        view.state = "closed"
    else:
        view.not_offered = not_offered(viewer, run, index, step)
        view.reassignable = bool(step.approvers)
    if step.form:
        _typed_view(view, step, result.get("event_data"), submitted, invalid)
    for moved in step.reassignments or []:
        to = ", ".join(shown_approver(str(name)) for name in moved.get("to") or [])
        view.reassignments.append((str(moved.get("by")), fmt_time(moved.get("at")), to, str(moved.get("reason"))))
    if step.quorum:
        _quorum_view(view, step, run.votes.get(index) or result.get("votes") or [], result.get("quorum"))
    return view


def _quorum_view(view: ApprovalView, step: Step, votes: list[dict[str, Any]], decided: Any) -> None:
    """A quorum ask's tally, its votes, and (open) who may still vote."""
    tally = Tally.from_dict(decided) or Tally(sum(1 for v in votes if v.get("approve")), step.quorum or 0)
    view.tally = tally.describe()
    if tally.outcome is QuorumOutcome.UNREACHABLE:
        view.decision, view.decided_by = "rejected", "the votes (the quorum can no longer be met)"
    how = {True: "approved", False: "rejected"}
    view.votes = [(str(v.get("by")), how[bool(v.get("approve"))], fmt_time(v.get("at"))) for v in votes]
    voted = {v.get("by") for v in votes}
    if view.state == "pending":
        left = [shown_approver(a) for a in step.approvers or [] if a not in voted]
        view.may_still_vote = ", ".join(left) if step.approvers else "any approver who has not voted"


def _typed_view(
    view: ApprovalView, step: Step, data: Any, submitted: Mapping[str, str] | None, invalid: InvalidDecision | None
) -> None:
    """A typed ask's options and controls (open), or its decided values and what changed (decided)."""
    view.options = [(key, label) for key, label in options_of(step)]
    model = form_model(step.form)
    if view.state == "pending" and model is not None:
        errors = invalid.errors if invalid else {}
        view.fields = form_fields(model, submitted, errors, VALUE_PREFIX, step.initial)
    if invalid is not None:
        view.draft_comment = (submitted or {}).get("comment", "")[:1000]
        whole = [message for key, message in invalid.errors.items() if key in {"option", "values"}]
        view.form_errors = [*invalid.form_errors, *whole]
    if view.state == "decided" and isinstance(data, dict) and isinstance(data.get("values"), dict):
        decided = data["values"]
        view.values = [(k, as_json_text(v)) for k, v in decided.items()]
        proposed = (step.receipt or {}).get("proposed", step.initial)
        view.changes = [(k, as_json_text(old), as_json_text(new)) for k, old, new in changes(proposed, decided)]


def run_view(run: Run, viewer: Viewer = EVERYONE) -> RunView:
    """A run as its page shows it to ``viewer``."""
    approvals = [approval_view(run, i, s, viewer=viewer) for i, s in enumerate(run.steps) if s.type is StepType.WAIT]
    outcome = ""
    if run.status is RunStatus.COMPLETED:
        result = run.result if isinstance(run.result, dict) else {}
        if result.get("reason") == "timeout":
            outcome = "timeout"
        elif isinstance(result.get("approved"), bool):
            outcome = "approved" if result["approved"] else "rejected"
        else:
            outcome = "success"
    elif run.status.finished:
        outcome = run.status.value
    return RunView(
        run_id=run.run_id,
        workflow=run.workflow,
        status=run.status.value,
        created_at=fmt_time(run.created_at),
        finished=run.status.finished,
        outcome=outcome,
        result=as_json_text(run.result) if run.status is RunStatus.COMPLETED else "",
        error=run.error or "",
        steps=[step_view(i, s) for i, s in enumerate(run.steps)],
        approvals=approvals,
        controls=viewer.open_mode or viewer.approver,
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One audit trail entry of a run, as its page lists it."""

    at: str
    kind: str
    by: str
    step: str
    outcome: str
    via: str


TIMELINE_SCAN = 5000  # trail entries read for one page: the run's own, from when it started


def timeline(client: Client, run: Run) -> list[TimelineEntry]:
    """The run's audit trail entries, oldest first (decisions, votes, refusals, reassignments)."""
    names = {i: s.name for i, s in enumerate(run.steps)}
    shown = []
    for e in client.audit.entries(since=run.created_at - 1, run_id=run.run_id, scan=TIMELINE_SCAN):
        detail = e["detail"] if isinstance(e["detail"], dict) else {}
        step = names.get(e["index"], "") if e["index"] is not None else ""
        via = str(detail.get("via") or "")
        shown.append(TimelineEntry(fmt_time(e["at"]), e["kind"], e["by"], step, e["outcome"], via))
    return shown
