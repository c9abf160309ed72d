"""The run store's transitions: each write is one Lua script, called through its spec (scripts.py).

Keys come from ``keys.py``, replies are decoded by the specs (``replies.py``), reads are in
``queries.py``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from ...settings import Settings
from ..asks import filed_under, ladder
from ..journal import Journal
from ..models import RunStatus, Step, dumps
from ..outcomes import NotClaimed, Refusal, Resolution, WaitOutcome
from . import scripts
from .controls import RunControls
from .keys import NONCE_STEM_HEX, Keys, new_nonce
from .pending import Pending as Pending
from .queries import RunQueries, resolution_of
from .replication import Acks
from .replies import Claim as Claim
from .replies import NextRun
from .upgrades import Upgrades


def stamp(t: float | None = None) -> str:
    """A time as the run hash keeps it: seconds to the millisecond (a timer compares full ``repr`` times)."""
    return f"{time.time() if t is None else t:.3f}"


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
    """What reaching a wait did, and the next run its end claimed for the worker."""

    state: WaitOutcome
    resolution: Any = None  # resolved: the kept resolution; refused: (principal, Refusal)
    handed: Handed | None = None


@dataclass(frozen=True)
class Opened:
    """What opening several asks did (open, resolved, waiting, lost), and the next run the wait claimed."""

    state: WaitOutcome
    resolutions: dict[int, Any]  # resolved: each ask's, by its index
    refusals: list[tuple[int, str, Refusal]]  # kept decisions the policy refused: (index, principal, why)
    handed: Handed | None = None


class RunStore(RunQueries, RunControls):
    """Owns the ``<prefix>:*`` keys: runs, steps, waiters, lookback notifies, the due set and the indexes.

    Its writes are here, but an operator's (cancel, resume: ``RunControls``) in ``controls.py``; its
    reads (``RunQueries``) in ``queries.py``.
    """

    def __init__(
        self, connection: redis.Redis, settings: Settings, queue_keys: tuple[str, str], journal: Journal
    ) -> None:
        self.redis = connection
        self.settings = settings
        # The RQ queue's key and the set of queue keys: triggers and notifies queue wake-up calls.
        self.queue_keys = queue_keys
        self.prefix = settings.key_prefix
        self.keys = Keys(self.prefix)
        self.upgrades = Upgrades(connection, self.keys)  # data of earlier versions, walked by the sweepers
        # The journal entries an execution made go with its next write: they cost no round trip of
        # their own, and never reach Redis before the state they announce.
        self.journal = journal
        # HITL_MIN_REPLICAS: what a trigger, a decision and an execution's writes wait for (replication.py).
        self.acks = Acks.of(settings)

    def _hand_off(self, take_next: bool) -> dict[str, str]:
        """The hand-off's ARGV (scripts.HAND_OFF_ARGS; its KEYS: the RQ queue): only a worker asks for the next run."""
        token, lease = (new_token(), self._lease_deadline(time.time())) if take_next else ("", "")
        return {"next_token": token, "next_lease": lease}

    @staticmethod
    def _handed(next_run: NextRun | None, args: dict[str, str]) -> Handed | None:
        return Handed(next_run.run_id, args["next_token"], next_run.claim) if next_run is not None else None

    def _lease_deadline(self, now: float) -> str:
        return repr(now + self.settings.lease_seconds)

    # -- writes -----------------------------------------------------------------------------
    def create_run(
        self, run_id: str, workflow: str, payload: Any, by: str | None = None, parent: tuple[str, int] = ("", 0)
    ) -> bool:
        """Store a new running run and queue its wake-up call; False when the id is taken.

        ``parent``: the run that invoked it (context.invoke) and the child's depth, ('', 0) for none.
        """
        now = time.time()
        args = dict(prefix=self.prefix, run_id=run_id, workflow=workflow, payload=dumps(payload), now=stamp(now),
                    lease=self._lease_deadline(now), by=by or "", nonce=new_nonce(), parent=parent[0],
                    depth=str(parent[1]) if parent[0] else "", min_replicas=self.settings.min_replicas)  # fmt: skip
        return scripts.TRIGGER.call(self.redis, self.keys.for_trigger(run_id, *self.queue_keys), args, acks=self.acks)

    def wake(self, run_id: str) -> None:
        """Queue a wake-up call for the run on the RQ queue (``wake``, the trigger's and the notify's own)."""
        args = dict(run_id=run_id, nonce=new_nonce())
        scripts.WAKE.call(self.redis, self.keys.for_wake(run_id, *self.queue_keys), args)

    def claim(self, run_id: str, token: str, wake_up: tuple[str, str] = ("", "")) -> Claim | NotClaimed:
        """Take the run for the execution ``token``; a reason string when it must not run now.

        ``wake_up`` (RQ's intermediate queue, job id) is the call that started the execution: it is
        taken off that queue in the same script.
        """
        now = time.time()
        intermediate, job_id = wake_up
        args = dict(prefix=self.prefix, run_id=run_id, token=token, now=repr(now), lease=self._lease_deadline(now),
                    job_id=job_id)  # fmt: skip
        return scripts.CLAIM.call(self.redis, self.keys.for_claim(run_id, intermediate), args)

    def handoff(self, token: str) -> Handed | None:
        """End an execution: write the events riding along, and claim the next run queued for RQ.

        The run is taken off the head of the queue for the execution ``token``; ``None`` when the
        queue is empty or its head is another kind of RQ job (RQ's own loop runs that).
        """
        now = time.time()
        args = dict(prefix=self.prefix, token=token, now=repr(now), lease=self._lease_deadline(now))
        keys = self.keys.for_handoff(self.queue_keys[0])
        next_run = scripts.HANDOFF.call(self.redis, keys, args, self.journal.riders(), self.acks)
        return self._handed(next_run, {"next_token": token})

    def take_moved(self, pipe: Any, intermediate: str, token: str, worker_key: str = "", busy: str = "") -> None:
        """Queue ``take_moved.lua`` on ``pipe``, right behind the worker's BLMOVE into ``intermediate``.

        When it claims a run it also writes ``busy`` as the state of the RQ worker ``worker_key``
        (``busy`` may be RQ's ``WorkerStatus``), so the worker shows busy with no round trip of its own.
        """
        state = getattr(busy, "value", busy) if worker_key else ""
        args = dict(prefix=self.prefix, token=token, lease_seconds=self.settings.lease_seconds, busy=state)
        scripts.TAKE_MOVED.queue(pipe, self.keys.for_take_moved(intermediate, worker_key), args)

    @staticmethod
    def taken(reply: Any) -> tuple[str, str, Claim | NotClaimed] | None:
        """``take_moved.lua``'s reply: the run, the call that woke it and its claim (or why not), or None."""
        found = scripts.TAKE_MOVED.decode(reply)
        return (found.run_id, found.job_id, found.claim) if found is not None else None

    def load_scripts(self) -> None:
        """Load every script into Redis (after a restart lost them: a pipeline cannot reload one)."""
        scripts.load_all(self.redis)

    def write_steps(self, run_id: str, token: str, pending: Pending) -> bool:
        """Write the pending step records; False when this execution no longer owns the run."""
        args = dict(token=token, **pending.take(), now=stamp())
        keys = self.keys.for_write_step(run_id)
        return scripts.WRITE_STEP.call(self.redis, keys, args, self.journal.riders(), self.acks)

    def wait(
        self, run_id: str, token: str, index: int, step: Step, pending: Pending, *, take_next: bool = False
    ) -> Reached:
        """Register the wait ``step``; resolved at once when a lookback notify was kept for it.

        Refused (with the principal and the reason) when the policy refused a lookback decision:
        the wait is open.
        """
        assert step.event_id is not None and step.deadline is not None
        pending.add(index, step)
        hand_off = self._hand_off(take_next)
        args = dict(prefix=self.prefix, run_id=run_id, token=token, **pending.take(), index=index,
                    event_id=step.event_id, deadline=repr(step.deadline), now=stamp(), **hand_off,
                    approvers=filed_under(step),
                    filed=repr(step.due if step.due is not None else step.deadline), ladder=ladder(step))  # fmt: skip
        keys = self.keys.for_wait(run_id, step.event_id, self.queue_keys[0])
        reached = scripts.WAIT.call(self.redis, keys, args, self.journal.riders(), self.acks)
        handed = self._handed(reached.next, hand_off)
        if reached.refusal is not None:
            return Reached(reached.state, reached.refusal, handed)
        return Reached(reached.state, reached.resolution, handed)

    def open_asks(
        self, run_id: str, token: str, asks: list[tuple[int, Step]], mode: str, pending: Pending, *,
        suspend: bool, take_next: bool = False,
    ) -> Opened:  # fmt: skip
        """Open the asks at once (``asks.lua``); with ``suspend``, wait for them unless they settle.

        Their records go first, in ``pending`` (``asks`` gives only event ids and ladders). ``mode``
        says when they settle (``parallel.Resume``). Opening an ask again changes nothing.
        """
        hand_off = self._hand_off(take_next and suspend)
        opened = dumps([{"i": index, "e": step.event_id, "l": ladder(step)} for index, step in asks])
        args = dict(prefix=self.prefix, run_id=run_id, token=token, **pending.take(), asks=opened, mode=mode,
                    suspend="1" if suspend else "0", now=stamp(), **hand_off)  # fmt: skip
        keys = self.keys.for_asks(run_id, self.queue_keys[0])
        asked = scripts.ASKS.call(self.redis, keys, args, self.journal.riders(), self.acks)
        return Opened(asked.state, asked.resolutions, asked.refusals, self._handed(asked.next, hand_off))

    def resolve(
        self,
        event_id: str,
        resolution: Any,
        run_id: str | None,
        *,
        lookback: bool = True,
        principal: str = "",
        form: str = "",
        vote: tuple[bool, str] = (True, ""),
    ) -> Resolution:
        """Resolve the waits on ``event_id`` (only ``run_id``'s, if given), queueing each run's wake-up call.

        With a ``principal``, the script applies the decision policy to each wait, and a typed ask
        takes only a resolution checked against its ``form``: refused waits stay as they are. A
        quorum ask counts ``vote`` (whether it approves, and its receipt as JSON) until the votes
        decide it. Also says whether the resolution was kept for a run not waiting yet (lookback).
        """
        now = time.time()
        args = dict(prefix=self.prefix, event_id=event_id, resolution=dumps(resolution), only=run_id or "",
                    now=stamp(now), lease=self._lease_deadline(now), keep="1" if lookback else "0",
                    nonce_stem=new_nonce(NONCE_STEM_HEX), principal=principal,
                    keep_max=max(self.settings.lookback_max, 1), form=form,
                    verdict="approve" if vote[0] else "reject", vote=vote[1],
                    audit_max=self.settings.audit_max_len, min_replicas=self.settings.min_replicas)  # fmt: skip
        keys = self.keys.for_resolve(event_id, run_id, *self.queue_keys)
        done = scripts.RESOLVE.call(self.redis, keys, args, acks=self.acks)
        return resolution_of(event_id, done)

    def sweep(self, limit: int = 500) -> list[tuple[str, str, str]]:
        """Act on everything due now; ``(run id, why, last wake-up nonce)`` for each run that may need a job.

        The same script takes finished runs whose keys expired off the indexes (``_indexes.lua``).
        """
        now = time.time()
        timeout = dumps({"event_data": None, "timeout": True, "at": now})
        args = dict(prefix=self.prefix, now=repr(now), lease=self._lease_deadline(now), limit=limit, timeout=timeout,
                    ttl=self.settings.finished_run_ttl)  # fmt: skip
        return [(d.run_id, d.why, d.nonce) for d in scripts.SWEEP.call(self.redis, self.keys.for_sweep(), args)]

    def renew(self, run_id: str, token: str) -> bool:
        """Extend the lease of the execution ``token``; False when it lost the run."""
        args = dict(run_id=run_id, token=token, lease=self._lease_deadline(time.time()))
        return scripts.RENEW.call(self.redis, self.keys.for_renew(run_id), args)

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
        hand_off = self._hand_off(take_next)
        args = dict(prefix=self.prefix, run_id=run_id, token=token, **pending.take(), wake_at=repr(wake_at),
                    now=stamp(), attempts="" if attempts is None else attempts, **hand_off)  # fmt: skip
        keys = self.keys.for_park(run_id, self.queue_keys[0])
        ended = scripts.PARK.call(self.redis, keys, args, self.journal.riders(), self.acks)
        return Ending(ended.taken, self._handed(ended.next, hand_off))

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
        hand_off = self._hand_off(take_next)
        args = dict(prefix=self.prefix, run_id=run_id, token=token, **pending.take(), status=status.value,
                    field=field_name, value=value, now=stamp(), ttl=self.settings.finished_run_ttl,
                    **hand_off)  # fmt: skip
        keys = self.keys.for_finish(run_id, status.value, self.queue_keys[0])
        ended = scripts.FINISH.call(self.redis, keys, args, self.journal.riders(), self.acks)
        return Ending(ended.taken, self._handed(ended.next, hand_off))


def new_token() -> str:
    """The token of one execution: the owner its run's writes are checked against."""
    return secrets.token_hex(8)
