"""The walks that bring runs stored by earlier versions up to date: a batch per sweep, each with its cursor.

First every run stored before the hash tags takes its keys' new names (``migrate.lua``), then every
ask opened before the inbox index is filed in it (``inbox_backfill.lua``). Any worker's sweeper
walks them; the cursors are in Redis, so a walk goes on where any process left it.
"""

from __future__ import annotations

import redis

from . import scripts
from .keys import Keys


class Upgrades:
    """The walks, in order; ``step`` takes one batch of the first not done."""

    def __init__(self, connection: redis.Redis, keys: Keys) -> None:
        self.redis = connection
        self.keys = keys
        self.done = False

    def migrate(self, count: int = 500) -> bool:
        """Rename up to ``count`` more runs stored before the hash tags; True once all were."""
        args = dict(prefix=self.keys.prefix, count=count)
        return scripts.MIGRATE.call(self.redis, self.keys.for_migrate(), args)

    def backfill_inbox(self, count: int = 500) -> bool:
        """File the open asks of up to ``count`` more runs in the inbox index; True once all were visited."""
        args = dict(prefix=self.keys.prefix, count=count)
        return scripts.INBOX_BACKFILL.call(self.redis, self.keys.for_inbox_backfill(), args)

    def step(self, count: int = 500) -> bool:
        """One batch of the first walk not done (the next walk waits for it); True once all are done."""
        if not self.done:
            self.done = self.migrate(count) and self.backfill_inbox(count)
        return self.done
