"""What the engine's transitions answer: why a decision or a claim was refused, what a wait or a notify did."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .models import Waiter
from .quorum import QuorumOutcome, Tally


class Refusal(StrEnum):
    """Why the decision policy (``_waits.lua``'s ``refusal`` and ``too_late``) refused a decision."""

    EXPIRED = "expired"
    NOT_APPROVER = "not_approver"
    OWN_RUN = "own_run"
    DECIDED = "decided"
    CLOSED = "closed"
    FORM = "form"  # a typed ask, and a decision not checked against its form (forms.decision_data)
    ALREADY_VOTED = "already_voted"  # a quorum ask: this principal's vote is counted already
    EARLY_VOTE = "early_vote"  # a quorum ask takes votes only once it is open (no lookback)
    CHILD_RUN = "child_run"  # a wait for a child run's result (context.invoke): only the child's end resolves it


class NotClaimed(StrEnum):
    """Why ``claim_run`` (``_runs.lua``) did not give an execution the run: none, held, early, or its status."""

    MISSING = "missing"
    BUSY = "busy"  # another execution holds its lease
    EARLY = "early"  # parked until later: a wake-up call that came before its time
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class WaitOutcome(StrEnum):
    """What reaching a wait did (``wait.lua``, ``asks.lua``)."""

    WAITING = "waiting"  # registered as a waiter: the run stops holding a worker
    RESOLVED = "resolved"  # a decision kept for its event id (lookback) resolved it at once
    OPEN = "open"  # several asks opened while the steps beside them run (asks.lua): the run goes on
    REFUSED = "refused"  # the policy refused the kept decision: still waiting
    LOST = "lost"  # the execution no longer owns the run


class DueReason(StrEnum):
    """Why a sweep (``sweep.lua``) handed a run to a new job."""

    TIMEOUT = "timeout"  # its wait's deadline passed: it resumes with a timeout
    LEASE = "lease"  # its execution's lease ran out (a crashed or stuck worker)
    QUEUED = "queued"  # its wake-up call waited past the lease in a long queue
    WAKE = "wake"  # a parked run's time to go on came


# resolve.lua's outcome for an ask of several answered while its run waits on the others (or runs).
ANSWERED = "answered"


@dataclass(frozen=True)
class Resolution:
    """What a notify did: the waiters it resolved, the runs whose policy refused it, and lookback."""

    waiters: list[Waiter]
    refused: list[tuple[Waiter, Refusal]]
    kept: bool
    # Quorum asks the decision voted on without resolving them: (the waiter, its tally so far).
    counted: list[tuple[Waiter, Tally]] = field(default_factory=list)
    # Of ``waiters``, asks of several answered whose run does not resume yet (it waits on the others).
    answered: list[Waiter] = field(default_factory=list)


@dataclass(frozen=True)
class WaitResult:
    """What ``wait_for_event`` returns: the event's data, or ``timeout=True`` and ``None``.

    For a typed ask also the option chosen and the decided values as the form's model.
    """

    event_data: Any
    timeout: bool
    option: str | None = None
    values: Any = None
    # A quorum ask: every vote counted (each a receipt with "approve"), and what they came to.
    votes: list[dict[str, Any]] | None = None
    outcome: QuorumOutcome | None = None
    # An ask of several (``context.parallel``) closed unanswered: another ask did not approve.
    withdrawn: bool = False
    # Decided by the system with the ask's ``on_timeout`` outcome: nobody decided before its deadline.
    defaulted: bool = False
