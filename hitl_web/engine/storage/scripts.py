"""One spec per Lua script (``spec.Spec``): its named KEYS and ARGV, the keys it finds from data, its decoded reply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from . import replies
from .keys import STATUSES
from .spec import (
    GROUPS,
    HAND_OFF_ARGS,
    HAND_OFF_KEYS,
    HELPERS,
    INBOXES,
    LEGACY,
    NO_RIDERS,
    QUEUE_HEAD,
    RIDERS,
    RUN,
    WAITS_OF_STEPS,
    Riders,
    Spec,
)

__all__ = [
    "GROUPS",
    "HELPERS",
    "INBOXES",
    "LEGACY",
    "NO_RIDERS",
    "QUEUE_HEAD",
    "RIDERS",
    "SPECS",
    "WAITS_OF_STEPS",
    "Riders",
    "Spec",
    "load_all",
]  # fmt: skip

TRIGGER = Spec(
    "trigger",
    keys=(*RUN, "index", *STATUSES, "due", "queue", "queues"),
    args=("prefix", "run_id", "workflow", "payload", "now", "lease", "by", "nonce", "parent", "depth", "min_replicas"),
    decode=replies.flag,
    helpers=("_replicas", "_indexes", "_runs"),
    found=(LEGACY,),
)
CLAIM = Spec(
    "claim",
    keys=(*RUN, "due", "intermediate"),  # intermediate: RQ's, the wake-up call's ('' with no call)
    args=("prefix", "run_id", "token", "now", "lease", "job_id"),
    decode=replies.claim,
    helpers=("_runs",),
    found=(LEGACY,),
)
HANDOFF = Spec(
    "handoff",
    keys=("queue", "due"),
    args=("prefix", "token", "now", "lease"),
    decode=replies.next_run,
    helpers=("journal", "_runs"),
    riders=True,
    found=(QUEUE_HEAD, LEGACY),
)
WRITE_STEP = Spec(
    "write_step",
    keys=("run", "steps"),
    args=("token", "records", "clear", "now"),
    decode=replies.flag,
    helpers=("journal", "_runs"),
    riders=True,
)
# approvers: the ask's, as JSON ('' : anyone), and filed: its place in the inbox (its due date, else
# its deadline), for the inbox.
WAIT_ARGS: tuple[str, ...] = ("prefix", "run_id", "token", "records", "clear", "index", "event_id", "deadline", "now")
WAIT_ARGS += (*HAND_OFF_ARGS, "approvers", "filed", "ladder")  # ladder: its reminders and escalation
WAIT = Spec(
    "wait",
    keys=(
        "run",
        "steps",
        "lookback",
        "lookback_order",
        "waiters",
        "many_waiters",
        "due",
        "running",
        "waiting",
        "rungs",
        *HAND_OFF_KEYS,
    ),
    args=WAIT_ARGS,
    decode=replies.waited,
    helpers=("journal", "_indexes", "_runs", "_waits", "_asks"),
    riders=True,
    found=(QUEUE_HEAD, GROUPS, INBOXES, LEGACY),
)
# Several asks at once (context.parallel): asks, JSON [{"i": index, "e": event id}, ...]; mode
# (parallel.Resume); suspend '1' when the run is to wait for them now, '0' while steps beside them run.
ASKS_ARGS: tuple[str, ...] = ("prefix", "run_id", "token", "records", "clear", "asks", "mode", "suspend", "now")
ASKS = Spec(
    "asks",
    keys=(
        "run",
        "steps",
        "lookback",
        "lookback_order",
        "waiters",
        "due",
        "running",
        "waiting",
        "rungs",
        *HAND_OFF_KEYS,
    ),
    args=(*ASKS_ARGS, *HAND_OFF_ARGS),
    decode=replies.asked,
    helpers=("journal", "_indexes", "_runs", "_waits", "_asks"),
    riders=True,
    found=(QUEUE_HEAD, WAITS_OF_STEPS, GROUPS, INBOXES, LEGACY),
)
# form: the typed ask's form the resolution was checked against ('' for none); verdict ('approve'
# or 'reject') and vote (its receipt as JSON): what a quorum ask counts.
RESOLVE_ARGS: tuple[str, ...] = ("prefix", "event_id", "resolution", "only", "now", "lease", "keep", "nonce_stem")
RESOLVE_ARGS += ("principal", "keep_max", "form", "verdict", "vote", "audit_max", "min_replicas")
RESOLVE = Spec(
    "resolve",
    # RUN: the given run's keys ('' each when the notify names no run).
    keys=("waiters", "many_waiters", "due", "running", "waiting", "queue", "queues", *RUN, "audit"),
    args=RESOLVE_ARGS,
    decode=replies.resolved,
    helpers=("_replicas", "_indexes", "_runs", "_waits", "_asks"),
    found=(
        ("the keys of each run waiting on the event id", "the waiters hash names them"),
        WAITS_OF_STEPS,  # an ask of several answered leaves its own event id's waiters
        GROUPS,
        INBOXES,
        LEGACY,
    ),
)
SWEEP = Spec(
    "sweep",
    keys=("due", "index", *STATUSES, "waiters", "indexed"),
    args=("prefix", "now", "lease", "limit", "timeout", "ttl"),
    decode=replies.swept,
    helpers=("_indexes", "_runs", "_waits", "_asks", "_reindex"),
    found=(
        ("the keys of each due run, and of the runs the index walk visits", "DUE, WAITING and INDEX name them"),
        WAITS_OF_STEPS,
        INBOXES,
        LEGACY,
    ),
)
MIGRATE = Spec(
    "migrate",
    keys=("index", "layout"),
    args=("prefix", "count"),
    decode=replies.flag,
    helpers=("_runs", "_reindex"),
    found=(("the keys of the runs the walk visits", "INDEX names them"), LEGACY),
)
INBOX_BACKFILL = Spec(
    "inbox_backfill",
    keys=("index", "inboxed"),
    args=("prefix", "count"),
    decode=replies.flag,
    helpers=("_indexes", "_runs", "_waits", "_reindex"),
    found=(("the keys of the runs the walk visits", "INDEX names them"), INBOXES, LEGACY),
)
RENEW = Spec("renew", keys=("run", "due"), args=("run_id", "token", "lease"), decode=replies.flag, helpers=("_runs",))
PARK = Spec(
    "park",
    keys=("run", "steps", "due", *HAND_OFF_KEYS),
    args=("prefix", "run_id", "token", "records", "clear", "wake_at", "now", "attempts", *HAND_OFF_ARGS),
    decode=replies.ended,
    helpers=("journal", "_runs"),
    riders=True,
    found=(QUEUE_HEAD, LEGACY),
)
FINISH = Spec(
    "finish",
    # finished: the status set of ``status``; waiters: the asks still open close with the run
    keys=(*RUN, "due", "running", "finished", "waiters", *HAND_OFF_KEYS),
    args=("prefix", "run_id", "token", "records", "clear", "status", "field", "value", "now", "ttl", *HAND_OFF_ARGS),
    decode=replies.ended,
    helpers=("journal", "_indexes", "_runs", "_waits", "_asks"),
    riders=True,
    found=(QUEUE_HEAD, WAITS_OF_STEPS, INBOXES, LEGACY),
)
CANCEL = Spec(
    "cancel",
    keys=(*RUN, "waiters", "due", "running", "waiting", "cancelled", "audit"),
    args=("prefix", "run_id", "now", "ttl", "principal", "audit_max"),
    decode=replies.cancelled,
    helpers=("journal", "_indexes", "_runs", "_waits", "_asks"),
    riders=True,
    found=(WAITS_OF_STEPS, INBOXES, LEGACY),
)
RESUME = Spec(
    "resume",
    keys=(*RUN, "due", "failed", "running", "queue", "queues", "audit"),
    args=("prefix", "run_id", "index", "record", "now", "lease", "nonce", "principal", "audit_max"),
    decode=replies.text,
    helpers=("journal", "_indexes", "_runs", "_waits"),
    riders=True,
    found=(LEGACY,),
)
READ = Spec("read", keys=RUN, args=("prefix", "run_id"), decode=replies.record, helpers=("_runs",), found=(LEGACY,))
PAGE = Spec(
    "page",
    keys=("index", *STATUSES, "due"),
    args=("prefix", "status", "offset", "limit"),
    decode=replies.page,
    helpers=("_indexes", "_runs", "_waits", "_reindex"),
    found=(("the keys of the page's runs", "the index read names them"), LEGACY),
)
BROWSE = Spec(
    "browse",
    keys=("index", *STATUSES, "due"),
    args=("prefix", "status", "any_of", "workflow", "since", "upto", "after_score", "after_id", "limit", "budget"),
    decode=replies.browsed,
    helpers=("_indexes", "_runs", "_waits", "_reindex"),
    found=(("the keys of the page's runs", "the index read names them"), LEGACY),
)
TAKE_MOVED = Spec(
    "take_moved",
    keys=("intermediate", "due", "worker"),  # worker: RQ's hash of the worker ('' with busy '')
    args=("prefix", "token", "lease_seconds", "busy"),
    decode=replies.taken,
    helpers=("_runs",),
    found=(("the keys of the run the call BLMOVE moved names", "its id is in that call"), LEGACY),
)
APPEND = Spec("append", keys=(), args=(), decode=replies.ids, helpers=("journal",), riders=True)
WAKE = Spec(
    "wake", keys=("run", "queue", "queues"), args=("run_id", "nonce"), decode=replies.nothing, helpers=("_runs",)
)
WAITERS = Spec(
    "waiters",
    keys=("waiters", "many_waiters"),
    args=("prefix", "event_id"),
    decode=replies.waiting,
    helpers=("_runs", "_waits", "_asks"),
    found=(("the keys of each run waiting on the event id", "the waiters hash names them"), LEGACY),
)

RUNGS = Spec(
    "rungs",
    keys=("rungs",),
    args=("prefix", "now", "limit"),
    decode=replies.rungs,
    helpers=("_runs", "_waits", "_asks"),
    found=(("the keys of the run each due rung names", "RUNGS names them"), LEGACY),
)
REASSIGN = Spec(
    "reassign",
    keys=("run", "steps", "audit", "rungs"),
    # was: the record as read; change: the reassignment as the audit trail keeps it (JSON); announce:
    # '1' to tell the new approvers (a rung due now), '0' for an escalation, whose rung tells them
    args=("prefix", "run_id", "index", "was", "record", "principal", "now", "change", "audit_max", "announce"),
    decode=replies.text,
    helpers=("journal", "_indexes", "_runs", "_waits", "_asks"),
    riders=True,
    found=(GROUPS, INBOXES),
)

SPECS: dict[str, Spec[Any]] = {
    s.name: s
    for s in (
        TRIGGER, CLAIM, HANDOFF, WRITE_STEP, WAIT, ASKS, RESOLVE, SWEEP, MIGRATE, RENEW, PARK, FINISH, CANCEL, RESUME,
        READ, PAGE, BROWSE, TAKE_MOVED, APPEND, WAKE, WAITERS, REASSIGN, INBOX_BACKFILL, RUNGS,
    )
}  # fmt: skip


def load_all(client: redis.Redis, specs: Sequence[Spec[Any]] = tuple(SPECS.values())) -> None:
    """Load every script into Redis (after a restart lost them: a pipeline cannot reload one)."""
    for spec in specs:
        client.script_load(spec.text)
