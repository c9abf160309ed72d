"""The inbox: the open asks a principal may decide, across all runs, soonest deadline first.

Every open ask is indexed under each entry of its approvers (``_waits.lua``'s ``inbox``): a user,
``group:<name>``, or '' for an ask any approver may decide. A principal's inbox merges the sets of
their name, their groups and '', so reading it costs the asks shown, never a scan of the runs.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import redis

from .groups import Groups, group_ref
from .storage.keys import Keys
from .storage.replies import text

ANYONE = ""  # the entry of the asks any approver may decide


@dataclass(frozen=True, order=True)
class Ask:
    """One open ask in an inbox: its deadline, run and step."""

    deadline: float
    run_id: str
    index: int


class Inbox:
    """Reads principals' inboxes (the scripts keep them)."""

    def __init__(self, connection: redis.Redis, keys: Keys, groups: Groups) -> None:
        self.redis = connection
        self.keys = keys
        self.groups = groups

    def entries(self, principal: str) -> list[str]:
        """The index entries an ask for ``principal`` is filed under: their name, groups, and anyone's."""
        return [principal, *(group_ref(g) for g in self.groups.of(principal)), ANYONE]

    def asks(self, principal: str, limit: int = 50, offset: int = 0) -> list[Ask]:
        """``principal``'s open asks, soonest deadline first (an ask under several entries once)."""
        if limit <= 0:
            return []
        entries = self.entries(principal)
        with self.redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                pipe.zrange(self.keys.inbox(entry), 0, offset + limit - 1, withscores=True)
            replies = pipe.execute()
        # Each entry's first offset + limit asks hold the merge's first offset + limit distinct ones
        # (one entry alone has that many, when it is full): an ask under two entries is kept once.
        merged, seen = [], set()
        for member, score in heapq.merge(*replies, key=lambda pair: pair[1]):
            name = text(member)
            if name not in seen:
                seen.add(name)
                run_id, _, index = name.rpartition(":")
                merged.append(Ask(float(score), run_id, int(index)))
        return merged[offset : offset + limit]

    def count(self, principal: str, cap: int | None = None) -> int:
        """How many distinct open asks are filed for ``principal``; with ``cap``, at most ``cap`` (a badge's "99+").

        An ask filed under two of their entries (``bob`` and ``group:finance``, bob a member) counts once.
        """
        keys = [self.keys.inbox(entry) for entry in self.entries(principal)]
        with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcard(key)
            cards: list[int] = pipe.execute()
        filled = [key for key, n in zip(keys, cards, strict=True) if n]
        if len(filled) <= 1:  # the usual case: nothing to count twice, one round trip
            return min(sum(cards), cap) if cap is not None else sum(cards)
        if cap is not None and max(cards) >= cap:
            return cap
        # Distinct members of a few sets, each under ``cap`` when capped: a bounded read.
        distinct = len(self.redis.zunion(filled))
        return min(distinct, cap) if cap is not None else distinct
