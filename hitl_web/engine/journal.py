"""The run's journal: the events that announce each change of a run, written by the engine itself.

Each entry is kept in its run's bounded list and announced on the all-runs stream, whose ids order
entries across runs (``<ms>-<seq>``), so a page can resume from the id it was rendered at. A
worker's entries go out with the engine's next write of the same execution (``RunStore``), so they
never reach Redis before the state they announce and cost no round trip of their own.
``hitl_web.live`` reads them; nothing else writes them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis

from .events import pack, validate
from .storage.keys import Keys
from .storage.scripts import APPEND, NO_RIDERS, Riders

log = logging.getLogger("hitl_web.journal")
_PACKED = json.JSONEncoder(separators=(",", ":"))  # an event's field values, as stored

Entry = tuple[str, str, int, str]  # an entry to write: run id, event name, time in ms, packed data


@dataclass(frozen=True)
class JournalBounds:
    """Entries kept per run, their expiry after the run finished, and the all-runs stream's length."""

    max_len: int = 1000
    ttl_seconds: int = 7 * 24 * 3600
    all_max_len: int = 10_000


def entry(run_id: str, name: str, data: dict[str, Any] | Any) -> Entry:
    """A validated journal entry for ``run_id`` (``InvalidEvent`` when ``data`` does not fit ``name``)."""
    return (run_id, name, int(time.time() * 1000), _PACKED.encode(pack(name, validate(name, data))))


class Journal:
    """Writes journal entries: at once (``append``), or with the engine's next write (``outbox``)."""

    def __init__(self, connection: redis.Redis, prefix: str = "hitl", bounds: JournalBounds | None = None) -> None:
        self.redis = connection
        self.keys = Keys(prefix)
        self.bounds = bounds or JournalBounds()
        self._outbox: Outbox | None = None
        self._lock = threading.Lock()

    @property
    def outbox(self) -> Outbox:
        """Entries waiting for the engine's next write; its thread starts on first use (in workers only)."""
        if self._outbox is None:
            with self._lock:
                if self._outbox is None:
                    # Its thread writes over pooled connections (the run's own is the main thread's).
                    own = redis.Redis(connection_pool=self.redis.connection_pool)
                    self._outbox = Outbox(Journal(own, self.keys.prefix, self.bounds))
        return self._outbox

    def append(self, run_id: str, name: str, data: dict[str, Any] | Any) -> str:
        """Validate and store one entry now; returns its id."""
        return self.write([entry(run_id, name, data)])[0]

    def write(self, entries: list[Entry]) -> list[str]:
        """Store entries in one call; returns their ids."""
        return APPEND.call(self.redis, keys={}, args={}, riders=self.riders_of(entries))

    def riders_of(self, entries: list[Entry]) -> Riders:
        """``entries`` as ``append_journal`` (journal.lua) reads them, after a script's own KEYS and ARGV."""
        if not entries:
            return NO_RIDERS
        b = self.bounds
        keys = [self.keys.announcements]
        args: list[Any] = [b.max_len, b.all_max_len, b.ttl_seconds]
        for item in entries:
            keys.append(self.keys.journal(item[0]))
            args += item
        return Riders(keys, args)

    def riders(self) -> Riders:
        """What the outbox holds, to ride along with the engine's next script (nothing when it never started)."""
        return self._outbox.take() if self._outbox is not None else NO_RIDERS

    def flush(self) -> None:
        """Write every entry still queued (before the process exits)."""
        if self._outbox is not None:
            self._outbox.flush()

    def retire_old_stream(self) -> bool:
        """Delete the all-runs stream where earlier versions kept it (``<p>:rt:all``); True if there was one.

        Only a stream is deleted: a list there is the journal of a run called ``all``.
        """
        old = self.keys.retired_announcements
        return bool(self.redis.type(old) in {b"stream", "stream"} and self.redis.delete(old))


class Outbox(threading.Thread):
    """A worker's entries, waiting to go out with the engine's next write (``Journal.riders``).

    Most entries are followed within microseconds by a write of the engine (the next step's start,
    the wait, the run's end, the hand-off to the next run): taking them along costs no round trip
    of their own. What no write took within ``linger`` seconds (the start of a long step) this
    thread writes itself. Writes hold the lock, so entries reach Redis in the order they were made.
    """

    # Polls without an entry before the thread sleeps until the next one (``put`` wakes it): a busy
    # worker's entries then cost no wake-up call each, and an idle one costs no polling.
    park_after = 20

    def __init__(self, journal: Journal, linger: float = 0.005) -> None:
        super().__init__(name="hitl-outbox", daemon=True)
        self.journal = journal
        self.linger = linger
        self.items: list[Entry] = []
        self.since = 0.0  # when the oldest queued entry was queued
        self.lock = threading.Lock()
        self.parked = False
        self.wake = threading.Event()
        self.start()

    def put(self, item: Entry) -> None:
        """Queue one entry."""
        with self.lock:
            if not self.items:
                self.since = time.monotonic()
            self.items.append(item)
        if self.parked:
            self.wake.set()

    def take(self) -> Riders:
        """The queued entries, to ride along with a script (``Journal.riders_of``), taken off the outbox."""
        with self.lock:
            items, self.items = self.items, []
        return self.journal.riders_of(items)

    def flush(self, older_than: float = 0.0) -> None:
        """Write the queued entries now (only if the oldest was queued ``older_than`` seconds ago)."""
        with self.lock:
            if self.items and time.monotonic() - self.since >= older_than:
                items, self.items = self.items, []
                self.journal.write(items)

    def run(self) -> None:
        """Write what no engine write took within ``linger``; a failed write is logged and dropped."""
        idle = 0
        while True:
            if idle >= self.park_after:
                self.parked = True
                if not self.items:  # checked after parking: a put from now on wakes the thread
                    self.wake.wait(1.0)
                self.wake.clear()
                self.parked, idle = False, 0
            time.sleep(self.linger)
            idle = 0 if self.items else idle + 1
            try:
                self.flush(older_than=self.linger)
            except Exception:
                log.exception("could not write journal entries")
