"""What the scripts answer, decoded: a dataclass per kind of reply (each layout is in its script's header).

A spec (``scripts.py``) names the decoder of its script's reply, so the store reads fields, never
positions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..models import Step
from ..outcomes import DueReason, NotClaimed, Refusal, WaitOutcome


def text(value: bytes | str | None) -> str:
    """A reply's string, whether the connection decodes replies or not."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def flag(reply: Any) -> bool:
    """A 0/1 reply."""
    return bool(reply)


def cancelled(reply: Any) -> tuple[str, str, str]:
    """cancel.lua's reply: the status the run had, its parent run ('' for none), its workflow."""
    return text(reply[0]), text(reply[1]), text(reply[2])


def nothing(reply: Any) -> None:
    """A reply nobody reads."""


@dataclass
class Claim:
    """What an execution gets when it takes a run: its inputs and the steps recorded so far."""

    workflow: str
    payload: Any
    started: bool
    # The resolution of each ask its last wait resumed with, by the ask's step index (see resolutions).
    resolutions: dict[int, Any]
    attempts: int
    steps: list[Step]
    # The run that invoked this one (context.invoke) and waits for its end; '' for none.
    parent: str = ""


def resolutions(wait_index: str, mode: str, resolution: str) -> dict[int, Any]:
    """A resumed wait's resolutions by ask index: one ask's ``resolution``, or several asks' JSON object.

    The run fields 'wait_index', 'wait_mode' and 'resolution' (``_asks.lua``); {} for none.
    """
    if not resolution or not wait_index:
        return {}
    decoded = json.loads(resolution)
    if mode:
        return {int(index): value for index, value in decoded.items()}
    return {int(wait_index): decoded}


def claim(reply: list[Any]) -> Claim | NotClaimed:
    """``claim_run``'s reply (``_runs.lua``): the claim, or the reason the run was not claimed."""
    state = text(reply[0])
    if state != "ok":
        return NotClaimed(state)
    workflow, payload, started, resolution, wait_index, mode, attempts, parent = (text(v) for v in reply[1:9])
    return Claim(
        workflow=workflow,
        payload=json.loads(payload),
        started=started == "1",
        resolutions=resolutions(wait_index, mode, resolution),
        attempts=int(attempts or 0),
        steps=[Step.from_json(raw) for raw in reply[9:]],
        parent=parent,
    )


@dataclass(frozen=True)
class NextRun:
    """The run ``take_next`` (``_runs.lua``) claimed for the worker: the hand-off."""

    run_id: str
    claim: Claim


def next_run(reply: list[Any]) -> NextRun | None:
    """``take_next``'s reply, ``{}`` when it claimed none."""
    if not reply:
        return None
    claimed = claim(reply[1:])
    assert isinstance(claimed, Claim), "take_next returns only runs it claimed"
    return NextRun(text(reply[0]), claimed)


@dataclass(frozen=True)
class Waited:
    """What reaching a wait did: ``state`` is waiting, resolved (a lookback decision), refused or lost."""

    state: WaitOutcome
    resolution: Any = None  # resolved: the kept resolution
    refusal: tuple[str, Refusal] | None = None  # refused: the principal and why
    next: NextRun | None = None


def waited(reply: list[Any]) -> Waited:
    """``wait.lua``'s reply."""
    state = WaitOutcome(text(reply[0]))
    if state is WaitOutcome.RESOLVED:
        return Waited(state, json.loads(reply[1]))
    if state is WaitOutcome.LOST:
        return Waited(state)
    refused = (text(reply[1]), Refusal(text(reply[2]))) if state is WaitOutcome.REFUSED else None
    return Waited(state, refusal=refused, next=next_run(reply[3]))


@dataclass(frozen=True)
class Asked:
    """What opening several asks did (``asks.lua``): open, resolved (by index), waiting or lost."""

    state: WaitOutcome
    resolutions: dict[int, Any]
    refusals: list[tuple[int, str, Refusal]]  # kept decisions the policy refused: (index, principal, why)
    next: NextRun | None = None


def asked(reply: list[Any]) -> Asked:
    """``asks.lua``'s reply."""
    state = WaitOutcome(text(reply[0]))
    if state is WaitOutcome.LOST:
        return Asked(state, {}, [])
    flat = [text(v) for v in reply[2]]
    refusals = [(int(i), who, Refusal(why)) for i, who, why in zip(flat[::3], flat[1::3], flat[2::3], strict=True)]
    by_index = json.loads(reply[1]) if state is WaitOutcome.RESOLVED else {}
    return Asked(state, {int(i): r for i, r in by_index.items()}, refusals, next_run(reply[3]))


@dataclass(frozen=True)
class Rung:
    """A due rung of an open ask's ladder (``rungs.lua``): a reminder ('r<n>') or its escalation ('e')."""

    run_id: str
    index: int
    rung: str
    step: Step
    workflow: str


def rungs(reply: list[Any]) -> list[Rung]:
    """``rungs.lua``'s reply."""
    rows = zip(reply[0::5], reply[1::5], reply[2::5], reply[3::5], reply[4::5], strict=True)
    return [Rung(text(rid), int(text(i)), text(r), Step.from_json(raw), text(wf)) for rid, i, r, raw, wf in rows]


@dataclass(frozen=True)
class Ended:
    """What a park or a finish did: ``taken`` False when the execution no longer owned the run."""

    taken: bool
    next: NextRun | None = None


def ended(reply: Any) -> Ended:
    """``park.lua``'s and ``finish.lua``'s reply: 0, or {1, the next run}."""
    if not isinstance(reply, list) or not reply[0]:
        return Ended(False)
    return Ended(True, next_run(reply[1]))


@dataclass(frozen=True)
class Outcome:
    """One run a notify met: its waiting step's record, and ``refusal`` ('' when it was resolved)."""

    run_id: str
    record: bytes | str | None
    refusal: str  # or 'counted': a vote counted on a quorum ask still open
    tally: str = ""  # a quorum ask's tally as JSON ('' for none)


@dataclass(frozen=True)
class Resolved:
    """What ``resolve.lua`` did: whether it kept the resolution (lookback), and each run it met."""

    kept: bool
    outcomes: list[Outcome]


def resolved(reply: list[Any]) -> Resolved:
    """``resolve.lua``'s reply."""
    outcomes = [
        Outcome(text(rid), raw or None, text(why), text(tally))
        for rid, raw, why, tally in zip(reply[1::4], reply[2::4], reply[3::4], reply[4::4], strict=True)
    ]
    return Resolved(bool(reply[0]), outcomes)


@dataclass(frozen=True)
class Due:
    """A run the sweep made due: why, and its last wake-up nonce."""

    run_id: str
    why: DueReason
    nonce: str


def swept(reply: list[Any]) -> list[Due]:
    """``sweep.lua``'s reply."""
    triples = zip(reply[0::3], reply[1::3], reply[2::3], strict=True)
    return [Due(text(r), DueReason(text(k)), text(j)) for r, k, j in triples]


@dataclass(frozen=True)
class Record:
    """A run as stored: its hash's fields and its step records."""

    fields: dict[str, str]
    steps: list[bytes]


def record(reply: list[Any]) -> Record | None:
    """``read.lua``'s reply; None when there is no such run."""
    flat, steps = reply
    return Record(_fields(flat), steps) if flat else None


@dataclass(frozen=True)
class Row:
    """One run of a page."""

    run_id: str
    record: Record


def page(reply: list[Any]) -> list[Row]:
    """``page.lua``'s reply."""
    return [
        Row(text(rid), Record(_fields(flat), steps))
        for rid, flat, steps in zip(reply[0::3], reply[1::3], reply[2::3], strict=True)
    ]


@dataclass(frozen=True)
class Browsed:
    """``browse.lua``'s reply: the page's runs, the last entry it examined, and whether more may follow."""

    rows: list[Row]
    last_score: str
    last_id: str
    more: bool


def browsed(reply: list[Any]) -> Browsed:
    """``browse.lua``'s reply."""
    last_score, last_id, more, flat = reply
    return Browsed(page(flat), text(last_score), text(last_id), bool(more))


@dataclass(frozen=True)
class Taken:
    """What ``take_moved.lua`` found behind a BLMOVE: the run, the call that woke it, its claim (or why not)."""

    run_id: str
    job_id: str
    claim: Claim | NotClaimed


def taken(reply: list[Any]) -> Taken | None:
    """``take_moved.lua``'s reply; None when the call moved was no wake-up call."""
    if not reply:
        return None
    return Taken(text(reply[0]), text(reply[1]), claim(reply[2:]))


@dataclass(frozen=True)
class Waiting:
    """A run waiting on an event id, and its waiting step's record."""

    run_id: str
    record: bytes | str


def waiting(reply: list[Any]) -> list[Waiting]:
    """``waiters.lua``'s reply."""
    return [Waiting(text(rid), raw) for rid, raw in zip(reply[0::2], reply[1::2], strict=True)]


def ids(reply: list[Any]) -> list[str]:
    """``append.lua``'s reply: the entries' ids."""
    return [text(i) for i in reply]


def _fields(flat: list[Any]) -> dict[str, str]:
    """A run hash from HGETALL's flat reply inside a script (field, value, ...)."""
    return {text(k): text(v) for k, v in zip(flat[0::2], flat[1::2], strict=True)}
