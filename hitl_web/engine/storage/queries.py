"""The read model of the run store: a run, its waiters, pages of runs, and what a notify met."""

from __future__ import annotations

import json

import redis

from ..errors import RunNotFound
from ..models import Run, RunStatus, Step, StepStatus, Waiter, apply_resolution
from ..outcomes import ANSWERED, Refusal, Resolution
from ..quorum import COUNTED, Tally
from ..run_pages import MAX_LIMIT, RunFilter, RunPage, decode_cursor, encode_cursor
from .keys import Keys
from .replies import Record, Resolved, resolutions
from .scripts import BROWSE, PAGE, READ, WAITERS


class RunQueries:
    """Reads of the ``<prefix>:*`` keys; ``RunStore`` adds the writes and sets the attributes below."""

    redis: redis.Redis
    prefix: str
    keys: Keys

    def get_waiters(self, event_id: str) -> list[Waiter]:
        """Runs waiting on ``event_id`` now."""
        args = {"prefix": self.prefix, "event_id": event_id}
        found = WAITERS.call(self.redis, self.keys.for_waiters(event_id), args)
        return sorted((waiter(w.run_id, event_id, w.record) for w in found), key=lambda w: w.run_id)

    def get_run(self, run_id: str) -> Run:
        """The run with its steps and open waits, or ``RunNotFound``."""
        stored = READ.call(self.redis, self.keys.for_read(run_id), {"prefix": self.prefix, "run_id": run_id})
        if stored is None:
            raise RunNotFound(f"no run {run_id!r}")
        return build_run(run_id, stored)

    def list_runs(self, status: RunStatus | None = None, limit: int = 50, offset: int = 0) -> list[Run]:
        """Runs newest first; with ``status``, the latest to enter it first (waiting: soonest deadline first).

        One script reads the page from its index (``page.lua``), so it costs the page's size, not
        the number of runs stored.
        """
        if limit <= 0:
            return []
        rows = PAGE.call(
            self.redis,
            self.keys.for_page(),
            {
                "prefix": self.prefix,
                "status": status.value if status is not None else "",
                "offset": max(offset, 0),
                "limit": limit,
            },
        )
        return [build_run(row.run_id, row.record) for row in rows]

    def browse(self, where: RunFilter, cursor: str | None = None, limit: int = 50, budget: int = 2000) -> RunPage:
        """A page of the runs ``where`` selects, after ``cursor``: at most ``limit``, examining at most ``budget``.

        ``InvalidCursor`` for a cursor this server did not hand out.
        """
        after_score, after_id = decode_cursor(cursor) if cursor else ("", "")
        limit = min(max(limit, 1), MAX_LIMIT)
        args = {
            "prefix": self.prefix,
            "status": where.status.value if where.status is not None else "",
            "any_of": ",".join(s.value for s in where.any_of),
            "workflow": where.workflow or "",
            "since": repr(where.since) if where.since is not None else "",
            "upto": repr(where.until) if where.until is not None else "",
            "after_score": after_score,
            "after_id": after_id,
            "limit": limit,
            "budget": max(budget, limit),
        }
        found = BROWSE.call(self.redis, self.keys.for_page(), args)
        runs = [build_run(row.run_id, row.record) for row in found.rows]
        following = encode_cursor(found.last_score, found.last_id) if found.more and found.last_id else None
        return RunPage(runs, following)


def resolution_of(event_id: str, done: Resolved) -> Resolution:
    """What ``resolve.lua`` did to each run it met: resumed, an ask answered, a vote counted, or refused (why)."""
    waiters, refused, counted, answered = [], [], [], []
    for outcome in done.outcomes:
        found = waiter(outcome.run_id, event_id, outcome.record)
        if outcome.refusal == COUNTED:
            counted.append((found, Tally.from_dict(json.loads(outcome.tally)) or Tally(0, 0)))
        elif outcome.refusal == ANSWERED:
            waiters.append(found)
            answered.append(found)
        elif outcome.refusal:
            refused.append((found, Refusal(outcome.refusal)))
        else:
            waiters.append(found)
    return Resolution(waiters, refused, done.kept, counted, answered)


def waiter(run_id: str, event_id: str, record: bytes | str | None) -> Waiter:
    """A waiter from its run's waiting step record."""
    step = Step.from_json(record) if record else None
    return Waiter(run_id, event_id, step.name if step else "", (step.deadline or 0.0) if step else 0.0)


def build_run(run_id: str, stored: Record) -> Run:
    """A ``Run`` from its hash's fields and its step records."""
    f = stored.fields
    steps = [Step.from_json(raw) for raw in stored.steps]
    status = RunStatus(f["status"])
    # A wait resolved by notify or timeout shows as such before its run picks the resolution up, and
    # so does an ask of several answered while the run waits on the others ('resolution:<index>').
    mode, wait_index = f.get("wait_mode") or "", f.get("wait_index") or ""
    found = resolutions(wait_index, mode, f.get("resolution") or "")
    found.update((int(k[11:]), json.loads(v)) for k, v in f.items() if k.startswith("resolution:"))
    for index, resolution in found.items():
        if index < len(steps):
            apply_resolution(steps[index], resolution)
    # A quorum ask's votes (run fields "votes:<index>", written by count_vote, _waits.lua).
    votes = {int(k[6:]): json.loads(v) for k, v in f.items() if k.startswith("votes:") and k[6:].isdigit()}
    waits = []  # a waiting run's ask, or each of several asks still open (also beside a running step)
    if status is RunStatus.WAITING or (mode and status is RunStatus.RUNNING):
        for index in (int(i) for i in wait_index.split(",") if i):
            step = steps[index]
            if step.status is StepStatus.WAITING:
                waits.append(Waiter(run_id, step.event_id or "", step.name, step.deadline or 0.0))
    return Run(
        run_id=run_id,
        workflow=f["workflow"],
        status=status,
        payload=json.loads(f["payload"]),
        created_at=float(f["created"]),
        updated_at=float(f["updated"]),
        finished_at=float(f["finished"]) if f.get("finished") else None,
        steps=steps,
        waits=waits,
        result=json.loads(f["result"]) if f.get("result") else None,
        error=f.get("error") or None,
        triggered_by=f.get("by") or None,
        votes=votes,
    )
