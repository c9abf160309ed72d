"""The key schema: the name of every Redis key the engine keeps, in one place.

The Lua scripts get their keys from here (``KEYS``), never build their own, so that moving keys
(a shard layout, a key-scoped ACL) is a change of this file only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """The keys under one prefix (several deployments, or test sessions, can share one Redis)."""

    prefix: str

    def run(self, run_id: str) -> str:
        """Hash of one run's fields."""
        return f"{self.prefix}:run:{run_id}"

    def steps(self, run_id: str) -> str:
        """List of one run's step records, in execution order."""
        return f"{self.prefix}:steps:{run_id}"

    def journal(self, run_id: str) -> str:
        """List of one run's journal entries (its events, bounded)."""
        return f"{self.prefix}:rt:{run_id}"

    @property
    def announcements(self) -> str:
        """Stream announcing every journal entry of every run (what each web process's hub reads).

        Outside the runs' namespace (``<p>:rt:<run id>``), so that no run id can name it: under
        ``<p>:rt:all`` a run called ``all`` failed with WRONGTYPE, and so did its page.
        """
        return f"{self.prefix}:rt"

    @property
    def waiters(self) -> str:
        """Hash of event id -> the run waiting on it, or ``MANY`` (see ``many_waiters``)."""
        return f"{self.prefix}:waiters"

    def many_waiters(self, event_id: str) -> str:
        """Hash whose fields are the runs waiting on ``event_id``, when there are several."""
        return f"{self.prefix}:waiters:{event_id}"

    @property
    def index(self) -> str:
        """Sorted set of every run id by creation time."""
        return f"{self.prefix}:runs"

    def status(self, status: str) -> str:
        """Sorted set of the runs with ``status``, by when each entered it; waiting runs by deadline."""
        return f"{self.prefix}:runs:{status}"


MANY = "*"  # in the waiters hash: several runs wait on this event id (never a run id)
