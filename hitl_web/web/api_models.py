"""The JSON API's contract: one pydantic model per request and response body, query and error.

The handlers validate requests with these models and build their answers through them, and the
OpenAPI document (``contract.py``) is generated from the same models: the document cannot drift from
what the API does. Field names are the guide's camelCase wire names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..approvals import Decision
from ..engine import Run, RunStatus
from ..engine.run_pages import MAX_LIMIT

MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z, the last second a page can show


class Body(BaseModel):
    """Base of request bodies: fields beyond the contract are ignored (a newer client's are not an error)."""

    model_config = ConfigDict(extra="ignore")


class Answer(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every refusal: ``success`` false, ``error`` in words, and what the refusal adds (fields, reason...)."""

    model_config = ConfigDict(extra="allow")
    success: bool = False
    error: str
    fields: dict[str, Any] | None = Field(None, description="the request's invalid fields, and why each")


# -- requests ----------------------------------------------------------------------------
class TriggerRequest(Body):
    """Start a run of ``workflowType`` with ``payload`` (and a run id of the caller's, if given)."""

    workflowType: str = Field(min_length=1, max_length=200)
    workflowRunId: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")
    payload: Any = None


class NotifyRequest(Body):
    """Notify the runs waiting on ``eventId`` (or only ``workflowRunId``, kept for it if it waits later)."""

    eventId: str = Field(min_length=1)
    eventData: Any = None
    workflowRunId: str | None = None


class ReassignRequest(Body):
    """Give an open ask to other approvers (names, ``group:NAME``), saying why."""

    to: list[str]
    reason: str


class Query(BaseModel):
    """Base of query strings: unknown parameters are ignored, and an empty one says nothing.

    ``?limit=&since=`` (a filter form's blank fields) reads as no limit and no time, as on ``/runs``.
    """

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def blanks_say_nothing(cls, data: Any) -> Any:
        """The query without its empty parameters."""
        return {k: v for k, v in data.items() if v != ""} if isinstance(data, dict) else data


class RunsQuery(Query):
    """``GET /api/runs``'s query: ``/runs``'s filters and a cursor."""

    status: RunStatus | None = None
    workflow: str | None = None
    since: str | None = Field(None, description="created from: ISO 8601 or epoch seconds")
    until: str | None = Field(None, description="created up to: ISO 8601 or epoch seconds")
    q: str | None = Field(None, description="a run id or an event id")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, description="the previous page's cursor")


class AuditQuery(Query):
    """``GET /api/audit``'s query: a time range (epoch seconds), a run, a principal."""

    # Bounded: a stream id is milliseconds since 1970, so a negative or huge time is no id Redis takes.
    since: float | None = Field(None, ge=0, le=MAX_EPOCH, allow_inf_nan=False)
    until: float | None = Field(None, ge=0, le=MAX_EPOCH, allow_inf_nan=False)
    run: str | None = None
    principal: str | None = None


# -- responses ---------------------------------------------------------------------------
class TriggerAnswer(Answer):
    """The run started."""

    workflowRunId: str


class DecisionOut(Answer):
    """What one decision did to one run: resumed it, counted a vote, or was refused (``error``, ``reason``)."""

    workflowRunId: str
    eventId: str | None = None
    stepName: str | None = None
    deadline: float | None = None
    error: str | None = None
    reason: str | None = None
    approvals: int | None = None
    needed: int | str | None = None
    fields: dict[str, Any] | None = None
    formErrors: list[str] | None = None


class NotifyAnswer(Answer):
    """The runs the notify resumed, the votes it counted, the refusals among several waiters."""

    success: bool = True
    notified: list[DecisionOut]
    counted: list[DecisionOut] | None = Field(None, description="quorum asks: the vote counts, the ask stays open")
    refused: list[DecisionOut] | None = Field(None, description="runs whose policy refused this principal")
    kept: bool | None = Field(None, description="lookback: kept for a run that has not reached its wait yet")


class ReassignAnswer(Answer):
    """The ask's approvers now."""

    success: bool = True
    message: str
    approvers: list[str] | None


class StepOut(Answer):
    """One step of a run."""

    stepName: str
    type: str
    status: str
    result: Any = None
    error: str | None = None
    attempts: int
    startedAt: float
    finishedAt: float | None = None
    eventId: str | None = None
    message: str | None = None
    deadline: float | None = None
    receipt: dict[str, Any] | None = None
    quorum: int | str | None = None


class WaitingOut(Answer):
    """An open wait of a run."""

    eventId: str
    stepName: str
    deadline: float | None = None
    message: str | None = None


class RunOut(Answer):
    """A run, with its steps, open waits and outcome."""

    workflowRunId: str
    workflowType: str
    status: str
    payload: Any = None
    createdAt: float
    updatedAt: float
    finishedAt: float | None = None
    steps: list[StepOut]
    waiting: list[WaitingOut]
    result: Any = None
    error: str | None = None
    triggeredBy: str | None = None
    votes: dict[str, list[dict[str, Any]]] = Field(description="quorum asks' votes, by step index")


class RunsAnswer(Answer):
    """A page of runs and the next page's cursor."""

    runs: list[RunOut]
    cursor: str | None = Field(description="the next page's cursor; null on the last page")


class TimeoutShape(Answer):
    """What a waiting run resumes with at its deadline."""

    eventData: None = None
    timeout: Literal[True] = True


class WaiterOut(Answer):
    """A run waiting on the event id."""

    workflowRunId: str
    stepName: str
    eventId: str
    deadline: float | None = None
    timeout: TimeoutShape = Field(default_factory=TimeoutShape, description="what the run resumes with at its deadline")


class WaitersAnswer(Answer):
    """The runs waiting on an event id now."""

    waiters: list[WaiterOut]


class AuditEntry(Answer):
    """One line of ``GET /api/audit`` (JSON lines)."""

    id: str
    at: float
    kind: str
    runId: str
    index: int | None = None
    eventId: str
    by: str
    outcome: str
    detail: Any = None
    askSha1: str | None = None


def run_out(run: Run) -> RunOut:
    """A run in the API's shape."""
    steps = [
        StepOut(
            stepName=s.name,
            type=s.type.value,
            status=s.status.value,
            result=s.result,
            error=s.error,
            attempts=s.attempts,
            startedAt=s.started_at,
            finishedAt=s.finished_at,
            eventId=s.event_id,
            message=s.message if s.event_id else None,
            deadline=s.deadline if s.event_id else None,
            receipt=s.receipt or None,
            quorum=s.quorum or None,
        )
        for s in run.steps
    ]
    messages = {s.event_id: s.message for s in reversed(run.steps) if s.event_id}
    waiting = [
        WaitingOut(eventId=w.event_id, stepName=w.step_name, deadline=w.deadline, message=messages.get(w.event_id))
        for w in run.waits
    ]
    return RunOut(
        workflowRunId=run.run_id,
        workflowType=run.workflow,
        status=run.status.value,
        payload=run.payload,
        createdAt=run.created_at,
        updatedAt=run.updated_at,
        finishedAt=run.finished_at,
        steps=steps,
        waiting=waiting,
        result=run.result,
        error=run.error,
        triggeredBy=run.triggered_by,
        votes={str(index): votes for index, votes in run.votes.items()},
    )


def decision_out(decision: Decision) -> DecisionOut:
    """One run's decision as the notify call reports it."""
    out = DecisionOut(workflowRunId=decision.run_id)
    if decision.waiter is not None:
        w = decision.waiter
        out.eventId, out.stepName, out.deadline = w.event_id, w.step_name, w.deadline
    if not decision.accepted:
        out.error, out.reason = decision.message, decision.refusal.value if decision.refusal else None
    if decision.tally is not None:
        out.approvals, out.needed = decision.tally.approvals, decision.tally.needed
    if decision.invalid is not None:  # a typed ask's form refused it: pydantic's messages by field
        out.reason, out.fields, out.formErrors = "invalid", decision.invalid.errors, decision.invalid.form_errors
    return out


def dump(model: BaseModel) -> dict[str, Any]:
    """A sparse response model as the JSON body it answers (unset optional parts left out)."""
    return model.model_dump(mode="json", exclude_none=True)
