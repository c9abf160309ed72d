"""The journal's events, as pydantic models keyed by their wire name (``workflow.stepFinish`` ...)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError


class EventData(BaseModel):
    """Base of every event's data; field names are the guide's camelCase wire names."""

    model_config = ConfigDict(extra="forbid")


class RunStart(EventData):
    workflow: str


class StepStart(EventData):
    stepName: str
    index: int
    type: Literal["run", "wait", "sleep"] = "run"


class StepFinish(EventData):
    stepName: str
    index: int = -1
    result: Any = None


class StepFail(EventData):
    stepName: str
    index: int = -1
    error: str
    final: bool = True


class WaitingForInput(EventData):
    eventId: str
    message: str
    stepName: str = ""
    index: int = -1
    deadline: float | None = None


class InputResolved(EventData):
    eventId: str
    stepName: str = ""
    index: int = -1
    timeout: bool = False
    decision: Any = None
    decidedBy: str | None = None
    decidedAt: float | None = None
    # The decision's receipt: who, when, how (form, API, CLI), comment, prompt hash, client address.
    receipt: dict[str, Any] | None = None


class VoteCast(EventData):
    """A vote counted on a quorum ask that stays open (the vote that decides it resolves the ask)."""

    stepName: str = ""
    by: str
    approve: bool = True
    approvals: int
    needed: int | str


class AskAnswered(EventData):
    """An ask of several answered while the run waits on the others (its inputResolved comes when it resumes)."""

    eventId: str
    stepName: str = ""
    by: str | None = None
    approve: bool = True


class Reminded(EventData):
    """A reminder of an open ask went out (its ladder's ``count``-th, rungs.py)."""

    stepName: str = ""
    index: int = -1
    count: int = 1


class Reassigned(EventData):
    """An open ask given to other approvers (``assignment.reassign``)."""

    stepName: str = ""
    index: int = -1
    by: str
    to: list[str]
    previous: list[str] | None = None
    reason: str


class RunWarning(EventData):
    """Something the run's viewers should know that changed nothing, e.g. a refused lookback decision."""

    stepName: str = ""
    index: int = -1
    message: str


class RunResumed(EventData):
    """A failed run resumed from its failed step (the dead-letter list's resume), by whom."""

    by: str | None = None
    stepName: str = ""
    index: int = -1


class RunFinish(EventData):
    status: Literal["success", "failed", "cancelled"] = "success"
    error: str | None = None


SCHEMA: dict[str, type[EventData]] = {
    "workflow.runStart": RunStart,
    "workflow.stepStart": StepStart,
    "workflow.stepFinish": StepFinish,
    "workflow.stepFail": StepFail,
    "workflow.waitingForInput": WaitingForInput,
    "workflow.inputResolved": InputResolved,
    "workflow.runFinish": RunFinish,
    "workflow.warning": RunWarning,
    "workflow.voteCast": VoteCast,
    "workflow.askAnswered": AskAnswered,
    "workflow.reminded": Reminded,
    "workflow.reassigned": Reassigned,
    "workflow.runResumed": RunResumed,
}


# Each event's fields in schema order, whether each is required, and its default: what ``pack`` needs,
# read from the models once (a worker packs every event it emits).
_PACKING: dict[str, list[tuple[str, bool, Any]]] = {
    name: [
        (key, info.is_required(), None if info.is_required() else info.get_default(call_default_factory=True))
        for key, info in model.model_fields.items()
    ]
    for name, model in SCHEMA.items()
}


class InvalidEvent(ValueError):
    """An event name outside the schema, or data of the wrong shape."""


class Event(BaseModel):
    """One event as stored and delivered: its name, run, time and validated data."""

    name: str
    runId: str
    ts: float
    data: dict[str, Any]


def pack(name: str, data: dict[str, Any]) -> list[Any]:
    """Validated ``data`` of event ``name`` as its field values in schema order, trailing defaults left out.

    This is how events are stored, so a new field of an event model goes after the existing ones.
    """
    fields = _PACKING[name]
    values = [data[key] for key, _, _ in fields]
    while values:
        _, required, default = fields[len(values) - 1]
        if required or values[-1] != default:
            break
        values.pop()
    return values


def unpack(name: str, values: list[Any]) -> dict[str, Any]:
    """The data ``pack`` stored, defaults filled in again."""
    model = SCHEMA.get(name)
    if model is None:
        raise InvalidEvent(f"unknown event {name!r}")
    return model.model_validate(dict(zip(model.model_fields, values, strict=False))).model_dump(mode="json")


def validate(name: str, data: dict[str, Any] | BaseModel) -> dict[str, Any]:
    """``data`` checked against the model for ``name``, as plain JSON data."""
    model = SCHEMA.get(name)
    if model is None:
        raise InvalidEvent(f"unknown event {name!r}; known: {', '.join(SCHEMA)}")
    try:
        raw = data.model_dump() if isinstance(data, BaseModel) else data
        return model.model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in exc.errors())
        raise InvalidEvent(f"invalid data for {name}: {problems}") from None
