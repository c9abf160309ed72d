"""The run store: every Redis key of the engine, and the Lua scripts that change them atomically (reads: queries.py)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import redis

from ...settings import Settings
from ..journal import Journal, entry
from ..models import Refusal, Resolution, RunStatus, Step, Waiter, dumps
from .queries import RunQueries, _text
from .queries import apply_resolution as apply_resolution

SCRIPTS = (
    "trigger",
    "claim",
    "handoff",
    "write_step",
    "wait",
    "resolve",
    "sweep",
    "renew",
    "park",
    "finish",
    "cancel",
    "read",
    "page",
    "take_moved",
)
# The scripts that change a run's status, or read a page of runs, keep or read the indexes: only
# they get ``_indexes.lua`` (every line of a script's preamble runs on each call).
INDEXED = {"trigger", "wait", "resolve", "sweep", "finish", "cancel", "page"}


def stamp(t: float | None = None) -> str:
    """A time as the run hash keeps it: seconds to the millisecond (a timer compares full ``repr`` times)."""
    return f"{time.time() if t is None else t:.3f}"


@dataclass
class Pending:
    """Step records not written yet: they go with the execution's next write, in one round trip.

    A step's completion rides along with the next step's start, so it is stored before anything
    the next step does, at the cost of one write per step instead of two.
    """

    records: list[tuple[int, Step]] = field(default_factory=list)
    clear: bool = False

    def add(self, index: int, step: Step, *, resolved: bool = False) -> None:
        """Queue ``step`` for position ``index``; ``resolved`` when it holds a wait's resolution."""
        self.records.append((index, step))
        self.clear = self.clear or resolved

    def take(self) -> tuple[str, str]:
        """The queued records as the scripts read them ("index<TAB>json" lines), and the clear flag."""
        blob = "\n".join(f"{i}\t{step.to_json()}" for i, step in self.records)
        clear = "1" if self.clear else "0"
        self.records, self.clear = [], False
        return blob, clear


@dataclass(frozen=True)
class Handed:
    """The next run an ending write claimed for its worker (the hand-off), to be executed next."""

    run_id: str
    token: str
    claim: Claim


@dataclass(frozen=True)
class Ending:
    """What a park or a finish did: ``taken`` False when the execution no longer owned the run."""

    taken: bool
    handed: Handed | None = None


@dataclass(frozen=True)
class Reached:
    """What reaching a wait did: ``state`` is waiting, resolved (a lookback decision), refused or lost."""

    state: str
    resolution: Any = None  # resolved: the kept resolution; refused: (principal, Refusal)
    handed: Handed | None = None


@dataclass
class Claim:
    """What an execution gets when it takes a run: its inputs and the steps recorded so far."""

    workflow: str
    payload: Any
    started: bool
    resolution: Any
    wait_index: int | None
    attempts: int
    steps: list[Step]


class RunStore(RunQueries):
    """Owns the ``<prefix>:*`` keys: runs, steps, waiters, lookback notifies, the due set and the indexes.

    Its writes are here; its reads (``RunQueries``) in ``queries.py``.
    """

    def __init__(
        self, connection: redis.Redis, settings: Settings, queue_keys: tuple[str, str], journal: Journal
    ) -> None:
        self.redis = connection
        self.settings = settings
        # The RQ queue's key and the set of queue keys: triggers and notifies queue wake-up calls.
        self.queue_keys = queue_keys
        self.prefix = settings.key_prefix
        # The journal entries an execution made go with its next write: they cost no round trip of
        # their own, and never reach Redis before the state they announce.
        self.journal = journal
        scripts = resources.files(__package__)
        preamble = scripts.joinpath("journal.lua").read_text() + scripts.joinpath("_keys.lua").read_text()
        indexes = scripts.joinpath("_indexes.lua").read_text()
        self._scripts = {
            name: connection.register_script(
                preamble + (indexes if name in INDEXED else "") + scripts.joinpath(f"{name}.lua").read_text()
            )
            for name in SCRIPTS
        }

    def _call_riding(self, name: str, *args: Any) -> Any:
        """``_call`` with the journal entries waiting to ride along (the script's arguments end with them)."""
        return self._scripts[name](args=[self.prefix, *args, *self.journal.riders()])

    def _call_ending(self, name: str, take_next: bool, *args: Any) -> tuple[Any, Handed | None]:
        """``_call_riding`` for a script that ends an execution; with ``take_next`` it also claims the next run.

        Only a worker asks for the next run: nobody else would execute what was claimed.
        """
        if not take_next:
            return self._call_riding(name, *args, "", "", ""), None
        token = new_token()
        reply = self._call_riding(name, *args, self.queue_keys[0], token, self._lease_deadline(time.time()))
        # {'waiting', next...} from a wait ({'refused', principal, reason, next...} when it refused a
        # lookback decision), {1, next...} from a park or finish; nothing else hands off.
        if isinstance(reply, list) and reply:
            head = reply[0] if reply[0] == 1 else _text(reply[0])
            skip = {1: 1, "waiting": 1, "refused": 3}.get(head)
            if skip is not None and len(reply) > skip:
                run_id, claim = _next_run(reply[skip:])
                return reply, Handed(run_id, token, claim)
        return reply, None

    def _lease_deadline(self, now: float) -> str:
        return repr(now + self.settings.lease_seconds)

    # -- writes -----------------------------------------------------------------------------
    def create_run(self, run_id: str, workflow: str, payload: Any, triggered_by: str | None = None) -> bool:
        """Store a new running run and queue its wake-up call; False when the id is taken."""
        now = time.time()
        return bool(
            self._call(
                "trigger",
                run_id,
                workflow,
                dumps(payload),
                stamp(now),
                self._lease_deadline(now),
                triggered_by or "",
                *self.queue_keys,
                uuid.uuid4().hex[:12],
            )
        )

    def claim(self, run_id: str, token: str, wake_up: tuple[str, str] = ("", "")) -> Claim | str:
        """Take the run for the execution ``token``; a reason string when it must not run now.

        ``wake_up`` (RQ's intermediate queue, job id) is the call that started the execution: it is
        taken off that queue in the same script.
        """
        now = time.time()
        return _claim(self._call("claim", run_id, token, repr(now), self._lease_deadline(now), *wake_up))

    def handoff(self, token: str) -> Handed | None:
        """End an execution: write the events riding along, and claim the next run queued for RQ.

        The run is taken off the head of the queue for the execution ``token``; ``None`` when the
        queue is empty or its head is another kind of RQ job (RQ's own loop runs that).
        """
        now = time.time()
        reply = self._call_riding("handoff", token, repr(now), self._lease_deadline(now), self.queue_keys[0])
        if not reply:
            return None
        run_id, claim = _next_run(reply)
        return Handed(run_id, token, claim)

    def take_moved(self, pipe: Any, intermediate: str, token: str) -> None:
        """Queue ``take_moved.lua`` on ``pipe``, right behind the worker's BLMOVE into ``intermediate``."""
        script = self._scripts["take_moved"]
        pipe.evalsha(script.sha, 0, self.prefix, intermediate, token, self.settings.lease_seconds)

    @staticmethod
    def taken(reply: Any) -> tuple[str, str, Claim | str] | None:
        """``take_moved.lua``'s reply: the run, the call that woke it and its claim (or why not), or None."""
        if not reply:
            return None
        return _text(reply[0]), _text(reply[1]), _claim(reply[2:])

    def load_scripts(self) -> None:
        """Load every script into Redis (after a restart lost them: a pipeline cannot reload one)."""
        for script in self._scripts.values():
            self.redis.script_load(script.script)

    def write_steps(self, run_id: str, token: str, pending: Pending) -> bool:
        """Write the pending step records; False when this execution no longer owns the run."""
        blob, clear = pending.take()
        return bool(self._call_riding("write_step", run_id, token, blob, clear, stamp()))

    def wait(
        self, run_id: str, token: str, index: int, step: Step, pending: Pending, *, take_next: bool = False
    ) -> Reached:
        """Register the wait ``step``; resolved at once when a lookback notify was kept for it.

        Refused (with the principal and the reason) when the policy refused a lookback decision:
        the wait is open.
        """
        assert step.event_id is not None and step.deadline is not None
        pending.add(index, step)
        blob, clear = pending.take()
        deadline = repr(step.deadline)
        reply, handed = self._call_ending(
            "wait", take_next, run_id, token, blob, clear, index, step.event_id, deadline, stamp()
        )
        state = _text(reply[0])
        if state == "refused":
            return Reached(state, (_text(reply[1]), Refusal(_text(reply[2]))), handed)
        return Reached(state, json.loads(reply[1]) if state == "resolved" else None, handed)

    def resolve(
        self, event_id: str, resolution: Any, run_id: str | None, *, lookback: bool = True, principal: str = ""
    ) -> Resolution:
        """Resolve the waits on ``event_id`` (only ``run_id``'s, if given), queueing each run's wake-up call.

        With a ``principal``, the script applies the decision policy to each wait: refused waits stay
        as they are. Also says whether the resolution was kept for a run not waiting yet (lookback).
        """
        now = time.time()
        reply = self._call(
            "resolve",
            event_id,
            dumps(resolution),
            run_id or "",
            stamp(now),
            self._lease_deadline(now),
            "1" if lookback else "0",
            *self.queue_keys,
            uuid.uuid4().hex[:8],
            principal,
            max(self.settings.lookback_max, 1),
        )
        waiters, refused = [], []
        for rid, raw, outcome in zip(reply[1::3], reply[2::3], reply[3::3], strict=True):
            waiter = _waiter(_text(rid), event_id, raw)
            if outcome:
                refused.append((waiter, Refusal(_text(outcome))))
            else:
                waiters.append(waiter)
        return Resolution(waiters, refused, bool(reply[0]))

    def sweep(self, limit: int = 500) -> list[tuple[str, str, str]]:
        """Act on everything due now; ``(run id, why, last wake-up nonce)`` for each run that may need a job.

        The same script takes finished runs whose keys expired off the indexes (``_indexes.lua``).
        """
        now = time.time()
        timeout = dumps({"event_data": None, "timeout": True, "at": now})
        ttl = self.settings.finished_run_ttl
        reply = self._call("sweep", repr(now), self._lease_deadline(now), limit, timeout, ttl)
        return [(_text(r), _text(k), _text(j)) for r, k, j in zip(reply[0::3], reply[1::3], reply[2::3], strict=True)]

    def renew(self, run_id: str, token: str) -> bool:
        """Extend the lease of the execution ``token``; False when it lost the run."""
        return bool(self._call("renew", run_id, token, self._lease_deadline(time.time())))

    def park(
        self,
        run_id: str,
        token: str,
        wake_at: float,
        pending: Pending,
        attempts: int | None = None,
        *,
        take_next: bool = False,
    ) -> Ending:
        """Release the run until ``wake_at`` (a sleep or a retry backoff), writing the pending records."""
        blob, clear = pending.take()
        now = stamp()
        attempts_arg = "" if attempts is None else attempts
        reply, handed = self._call_ending(
            "park", take_next, run_id, token, blob, clear, repr(wake_at), now, attempts_arg
        )
        return Ending(_done(reply), handed)

    def finish(
        self,
        run_id: str,
        token: str,
        status: RunStatus,
        pending: Pending,
        *,
        result: Any = None,
        error: str = "",
        take_next: bool = False,
    ) -> Ending:
        """Mark the run completed (with ``result``) or failed (with ``error``), writing the pending records."""
        field_name, value = ("result", dumps(result)) if status is RunStatus.COMPLETED else ("error", error)
        blob, clear = pending.take()
        ttl = self.settings.finished_run_ttl
        now = stamp()
        reply, handed = self._call_ending(
            "finish", take_next, run_id, token, blob, clear, status.value, field_name, value, now, ttl
        )
        return Ending(_done(reply), handed)

    def cancel(self, run_id: str) -> str:
        """Cancel a running or waiting run; returns the status it had (``missing`` when unknown).

        The cancel writes the run's last journal entry (runFinish, cancelled) in the same script:
        no execution will announce it.
        """
        announce = self.journal.args([entry(run_id, "workflow.runFinish", {"status": "cancelled"})])
        return _text(self._call("cancel", run_id, stamp(), self.settings.finished_run_ttl, *announce))


def new_token() -> str:
    """The token of one execution: the owner its run's writes are checked against."""
    return secrets.token_hex(8)


def _done(reply: Any) -> bool:
    """Whether a park or finish was taken: 0 when not, else a list starting with 1."""
    return isinstance(reply, list) and bool(reply[0])


def _next_run(reply: list[Any]) -> tuple[str, Claim]:
    """The run ``take_next`` (``_keys.lua``) claimed: its id, then ``claim_run``'s reply."""
    claim = _claim(reply[1:])
    assert isinstance(claim, Claim), "take_next returns only runs it claimed"
    return _text(reply[0]), claim


def _claim(reply: list[Any]) -> Claim | str:
    """A claim from ``claim_run``'s reply (``_keys.lua``), or the reason the run was not claimed."""
    state = _text(reply[0])
    if state != "ok":
        return state
    workflow, payload, started, resolution, wait_index, attempts = (_text(v) for v in reply[1:7])
    return Claim(
        workflow=workflow,
        payload=json.loads(payload),
        started=started == "1",
        resolution=json.loads(resolution) if resolution else None,
        wait_index=int(wait_index) if wait_index else None,
        attempts=int(attempts or 0),
        steps=[Step.from_json(raw) for raw in reply[7:]],
    )


def _waiter(run_id: str, event_id: str, record: bytes | str | None) -> Waiter:
    """A waiter from its run's waiting step record."""
    step = Step.from_json(record) if record else None
    return Waiter(run_id, event_id, step.name if step else "", (step.deadline or 0.0) if step else 0.0)
