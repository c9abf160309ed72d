"""What the engine stores and returns: statuses, steps, runs, waiters and wait results."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Where a run is in its life."""

    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once nothing more will happen to the run."""
        return self in {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED}


class StepStatus(StrEnum):
    """Where a step is: a wait is ``waiting`` until notified or timed out."""

    RUNNING = "running"
    RETRYING = "retrying"
    WAITING = "waiting"
    SLEEPING = "sleeping"
    COMPLETED = "completed"
    FAILED = "failed"


class StepType(StrEnum):
    """What a step does."""

    RUN = "run"
    WAIT = "wait"
    SLEEP = "sleep"


@dataclass
class Step:
    """One recorded step of a run, as stored (compact JSON) in the run's step list."""

    name: str
    type: StepType
    status: StepStatus
    started_at: float
    finished_at: float | None = None
    result: Any = None
    error: str | None = None
    attempts: int = 0
    event_id: str | None = None
    deadline: float | None = None
    # What an approver is shown while a wait is open, and who alone may decide it (None: anyone).
    message: str | None = None
    approvers: list[str] | None = None
    # True when whoever started the run may not decide this wait (the workflow's separation of duties).
    separation_of_duties: bool | None = None
    # Who decided a wait and when; ``None`` for other steps and for timeouts.
    receipt: dict[str, Any] | None = None
    # A typed ask (forms.py): its form ("module:QualName" of its model, or "options"), the values
    # proposed to the approver, and its options as [key, label] pairs (None: Approve and Reject).
    form: str | None = None
    initial: dict[str, Any] | None = None
    options: list[list[str]] | None = None
    # A quorum ask: how many distinct approvers must approve (or "all" of them); None: the first decides.
    quorum: int | str | None = None
    # Each reassignment of the open ask: who, when, from which approvers to which, and why.
    reassignments: list[dict[str, Any]] | None = None
    # The notifiers told of the ask (HITL_NOTIFIERS names); None: its workflow's, or every one.
    notify: list[str] | None = None
    # When the ask is due (the inbox sorts and marks by it), apart from its hard deadline.
    due: float | None = None
    # What the ask decides when its deadline passes undecided (asks.default_outcome), as JSON text:
    # {"event_data": ..., "verdict"?: "reject"}; the sweep resolves it with that, by the system.
    on_timeout: str | None = None
    # Its ladder (rungs.py): a reminder every ``remind_every`` seconds, at most ``reminders``; after
    # ``escalate_after`` seconds undecided, ``escalate_to`` join its approvers.
    remind_every: float | None = None
    reminders: int | None = None
    escalate_after: float | None = None
    escalate_to: list[str] | None = None
    # A wait for a child run's result (context.invoke): its run id. Nobody decides it; the child's end does.
    child: str | None = None

    def to_json(self) -> str:
        """The stored form: short keys, times to the millisecond, defaults left out (waiting runs stay small)."""
        data: dict[str, Any] = {"n": self.name}
        if self.type is not StepType.RUN:
            data["t"] = self.type.value
        data["s"] = self.status.value
        data["a"] = round(self.started_at, 3)
        for key, short, is_time in _OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                data[short] = round(value, 3) if is_time else value
        if self.attempts:
            data["k"] = self.attempts
        return dumps(data)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Step:
        """Parse a stored step (also the long-keyed form earlier versions stored)."""
        data = json.loads(raw)
        fields = {LONG_KEYS.get(key, key): value for key, value in data.items()}
        fields["type"] = StepType(fields.get("type", StepType.RUN))
        fields["status"] = StepStatus(fields["status"])
        return cls(**fields)

    def prompt_sha256(self) -> str:
        """A fingerprint of what a wait shows its approvers: message, event, approvers and deadline."""
        # The deadline as stored (to the ms), so the record read back and the step in memory agree.
        deadline = round(self.deadline, 3) if self.deadline is not None else None
        prompt: list[Any] = [self.message, self.event_id, self.approvers, deadline]
        if self.form:  # an untyped ask keeps the fingerprint it had before asks had forms
            prompt += [self.form, self.initial, self.options]
        if self.quorum:  # and so does an ask without a quorum
            prompt += [self.quorum]
        if self.due:  # and one without a due date
            prompt += [round(self.due, 3)]
        shown = json.dumps(prompt, sort_keys=True)
        return hashlib.sha256(shown.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain data, enums as strings."""
        data = asdict(self)
        data["type"] = self.type.value
        data["status"] = self.status.value
        return data


# Step field -> its key in the stored JSON: a waiting run's records are read rarely and kept long.
# The Lua scripts read a waiting step's event id as "e".
STORED_KEYS = {
    "name": "n",
    "type": "t",
    "status": "s",
    "started_at": "a",
    "finished_at": "f",
    "result": "r",
    "error": "x",
    "attempts": "k",
    "event_id": "e",
    "deadline": "d",
    "message": "m",
    "approvers": "p",
    "receipt": "c",
    "separation_of_duties": "o",
    "form": "fm",  # the scripts read it: a typed ask takes only decisions checked against its form
    "initial": "in",
    "options": "op",
    "quorum": "q",  # the scripts read it: each approver's vote counts once until the quorum is met
    "reassignments": "ra",
    "notify": "nt",
    "due": "du",
    "on_timeout": "ot",  # the scripts read it: a timeout resolves the ask with it (_asks.lua's timeout_of)
    "remind_every": "re",  # the scripts read these two: rungs.lua schedules the next reminder
    "reminders": "rn",
    "escalate_after": "ea",
    "escalate_to": "et",
    "child": "ch",  # the scripts read it: a wait for a child run refuses every principal's decision
}
LONG_KEYS = {short: key for key, short in STORED_KEYS.items()}
TIMES = frozenset({"started_at", "finished_at", "deadline", "due"})
# The keys ``to_json`` leaves out when they are None (name, type, status, start and attempts it writes itself).
_OPTIONAL = tuple(
    (key, short, key in TIMES)
    for key, short in STORED_KEYS.items()
    if key not in {"name", "type", "status", "started_at", "attempts"}
)
_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def apply_resolution(step: Step, resolution: dict[str, Any]) -> None:
    """Turn a waiting step into its resolved form (notified or timed out): the domain's rule, for every reader."""
    step.status = StepStatus.COMPLETED
    step.finished_at = resolution.get("at")
    step.result = {"event_data": resolution.get("event_data"), "timeout": bool(resolution.get("timeout"))}
    if "votes" in resolution:  # a quorum ask: every vote counted, and what they came to (``Tally``)
        step.result["votes"] = resolution["votes"]
        step.result["quorum"] = resolution.get("quorum")
    if resolution.get("withdrawn"):  # an ask of several, closed unanswered when another rejected
        step.result["withdrawn"] = True
    if resolution.get("defaulted"):  # decided by the system: its deadline passed (Step.on_timeout)
        step.result["defaulted"] = True
    receipt = resolution.get("receipt")
    if isinstance(receipt, dict) and not receipt.get("prompt_sha256"):
        # The prompt a decision answered is the wait it resolved: every entry point's receipt (form,
        # API, CLI, a lookback decision) gets the same fingerprint, with no read before the notify.
        receipt = {**receipt, "prompt_sha256": step.prompt_sha256()}
    step.receipt = receipt  # the stored form of a ``receipts.Receipt`` (``Receipt.of`` reads it back)


def dumps(value: Any) -> str:
    """Compact JSON, refusing NaN and infinities (they are not JSON)."""
    return _COMPACT.encode(value)


@dataclass(frozen=True)
class Waiter:
    """A run waiting on an event id."""

    run_id: str
    event_id: str
    step_name: str
    deadline: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


@dataclass
class Run:
    """A run as ``Client.get_run`` reports it."""

    run_id: str
    workflow: str
    status: RunStatus
    payload: Any
    created_at: float
    updated_at: float
    steps: list[Step] = field(default_factory=list)
    waits: list[Waiter] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    finished_at: float | None = None
    # Who started the run (a signed-in name, an API principal): separation of duties needs it.
    triggered_by: str | None = None
    # The votes on each quorum ask, by its step's index, oldest first (each a receipt with "approve").
    votes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, enums as strings."""
        return {
            "triggered_by": self.triggered_by,
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status.value,
            "payload": self.payload,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "steps": [s.to_dict() for s in self.steps],
            "waits": [w.to_dict() for w in self.waits],
            "result": self.result,
            "error": self.error,
            "votes": {str(index): votes for index, votes in self.votes.items()},
        }
