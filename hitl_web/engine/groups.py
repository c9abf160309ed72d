"""Approver groups: named sets of principals a wait's approvers name as ``group:<name>``.

The decision policy (``_waits.lua``'s ``refusal``) reads a group's members when a decision comes,
so adding or removing a member applies to every open ask at once.
"""

from __future__ import annotations

import re

import redis

from .storage.keys import Keys

GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PREFIX = "group:"  # in a wait's approvers


def group_ref(name: str) -> str:
    """How a wait's approvers name a group (``group:finance``)."""
    return PREFIX + check_name(name)


def check_name(name: str) -> str:
    """``name`` if it may name a group (letters, digits, ``_.-``, at most 64), else ``ValueError``."""
    if not isinstance(name, str) or not GROUP_NAME.fullmatch(name):
        raise ValueError(f"invalid group name {name!r}: letters, digits, '_', '.', '-', at most 64")
    return name


def _members(members: tuple[str, ...]) -> list[str]:
    if not members or any(not isinstance(m, str) or not m.strip() or len(m) > 64 for m in members):
        raise ValueError("members are one or more names of at most 64 characters")
    return list(members)


class Groups:
    """The approver groups under one key prefix."""

    def __init__(self, connection: redis.Redis, keys: Keys) -> None:
        self.redis = connection
        self.keys = keys

    def add(self, name: str, *members: str) -> int:
        """Add ``members`` to group ``name`` (made if new); how many were not members yet."""
        key = self.keys.group(check_name(name))
        with self.redis.pipeline() as pipe:  # MULTI: the group and its name appear together
            pipe.sadd(key, *_members(members))
            pipe.sadd(self.keys.groups, name)
            added, _ = pipe.execute()
        return int(added)

    def remove(self, name: str, *members: str) -> int:
        """Remove ``members`` from group ``name`` (the group goes with its last member); how many were members."""
        key = self.keys.group(check_name(name))
        removed = int(self.redis.srem(key, *_members(members)))
        if not self.redis.exists(key):
            self.redis.srem(self.keys.groups, name)
        return removed

    def members(self, name: str) -> list[str]:
        """The members of group ``name``, sorted ([] for no such group)."""
        return sorted(_text(m) for m in self.redis.smembers(self.keys.group(check_name(name))))

    def all(self) -> dict[str, list[str]]:
        """Every group and its members, by name."""
        return {name: self.members(name) for name in sorted(_text(n) for n in self.redis.smembers(self.keys.groups))}

    def of(self, principal: str) -> list[str]:
        """The groups ``principal`` is a member of, sorted (two round trips, whatever the groups' sizes)."""
        names = sorted(_text(n) for n in self.redis.smembers(self.keys.groups))
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.sismember(self.keys.group(name), principal)
            return [name for name, member in zip(names, pipe.execute(), strict=True) if member]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
