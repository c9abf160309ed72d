"""Channels: each run's events in a bounded list, all of them announced on one stream.

Every event gets an id from the all-runs stream (``<ms>-<seq>``), so ids order events across runs
and a page can resume from the id it was rendered at.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis

from .schema import Event, pack, unpack, validate

log = logging.getLogger("hitl_web.live")
_PACKED = json.JSONEncoder(separators=(",", ":"))  # an event's field values, as stored

# Events after which a run's status differs: lists of runs re-render on these.
STATUS_EVENTS = frozenset(
    {"workflow.runStart", "workflow.waitingForInput", "workflow.inputResolved", "workflow.runFinish"}
)
# A run's events expire (``ttl_seconds``) with its runFinish, as its run and steps do; until then
# they are kept without an expiry, which costs a waiting run nothing (see store_events.lua).
PREFIX = "workflow."

Item = tuple[str, str, int, str]  # an event to write: run id, name, time in ms, packed data


@dataclass(frozen=True)
class StreamSettings:
    """Bounds: events kept per run, their expiry after the run finished, and the all-runs stream's length."""

    max_len: int = 1000
    ttl_seconds: int = 7 * 24 * 3600
    all_max_len: int = 10_000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def order(event_id: str) -> tuple[int, int]:
    """Sort key of an event id."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def newer(a: str, b: str) -> bool:
    """True when event id ``a`` comes after ``b``."""
    return order(a) > order(b)


class Channel:
    """The events of one run: ``emit`` appends, ``history`` replays from an event id."""

    def __init__(self, realtime: Realtime, run_id: str) -> None:
        self.realtime = realtime
        self.run_id = run_id
        self.key = realtime.events_key(run_id)

    def emit(self, name: str, data: dict[str, Any] | Any) -> str | None:
        """Validate and append an event; returns its id (``None`` when it goes out with the outbox)."""
        packed = _PACKED.encode(pack(name, validate(name, data)))
        item = (self.run_id, name, int(time.time() * 1000), packed)
        if self.realtime.outbox is not None:
            self.realtime.outbox.put(item)
            return None
        return _text(self.realtime.write([item])[0])

    def history(self, after: str = "0-0") -> list[tuple[str, Event]]:
        """Events after the id ``after`` (all kept ones by default), oldest first."""
        out = []
        raws: Any = self.realtime.redis.lrange(self.key, 0, -1)
        for raw in raws:
            event_id, event = self.realtime.parse(self.run_id, _text(raw))
            if newer(event_id, after):
                out.append((event_id, event))
        return out

    def last_id(self) -> str:
        """The id of the run's newest event, or ``0-0`` when there is none."""
        newest: Any = self.realtime.redis.lindex(self.key, -1)
        return _text(newest).split(" ", 1)[0] if newest else "0-0"


class Realtime:
    """Entry point: ``realtime.channel(run_id).emit(name, data)``.

    With ``background=True`` (workers), emits go to an ``Outbox``: the engine's next write takes
    them along, so a run's steps do not wait for them and they reach Redis in emit order, with or
    after the state they announce.
    """

    def __init__(
        self,
        connection: redis.Redis,
        prefix: str = "hitl",
        bounds: StreamSettings | None = None,
        *,
        background: bool = False,
    ) -> None:
        self.redis = connection
        self.prefix = prefix
        self.bounds = bounds or StreamSettings()
        self._emit = connection.register_script(script_text("emit.lua"))
        self.outbox: Outbox | None = Outbox(self) if background else None

    def events_key(self, run_id: str) -> str:
        """The list of one run's events."""
        return f"{self.prefix}:rt:{run_id}"

    @property
    def all_key(self) -> str:
        """The stream announcing every event of every run (what each web process's hub reads).

        Outside the runs' namespace (``<p>:rt:<run id>``), so that no run id can name it: under
        ``<p>:rt:all`` a run called ``all`` failed with WRONGTYPE, and so did its page.
        """
        return f"{self.prefix}:rt"

    def retire_old_stream(self) -> bool:
        """Delete the all-runs stream where earlier versions kept it (``<p>:rt:all``); True if there was one.

        Only a stream is deleted: a list there is the events of a run called ``all``.
        """
        old = self.events_key("all")
        return bool(self.redis.type(old) in {b"stream", "stream"} and self.redis.delete(old))

    def channel(self, run_id: str) -> Channel:
        """The channel of ``run_id``."""
        return Channel(self, run_id)

    def write(self, events: list[Item]) -> list[Any]:
        """Store events in one call; returns their ids."""
        return list(self._emit(args=[self.prefix, *self.event_args(events)]))

    def event_args(self, events: list[Item]) -> list[Any]:
        """``events`` as ``store_events.lua`` reads them (after the key prefix)."""
        b = self.bounds
        args: list[Any] = [b.max_len, b.all_max_len, b.ttl_seconds]
        for item in events:
            args += item
        return args

    def parse(self, run_id: str, raw: str) -> tuple[str, Event]:
        """An event id and event from a stored list entry ("<id> <name> <ms before the id> <data>")."""
        event_id, _, rest = raw.partition(" ")
        if rest.startswith("{"):  # stored whole by earlier versions
            old = json.loads(rest)
            return event_id, Event(name=old["name"], runId=run_id, ts=old["ts"], data=old["data"])
        name, lag, packed = rest.split(" ", 2)
        name = name if "." in name else PREFIX + name
        ts = (order(event_id)[0] - int(lag)) / 1000
        return event_id, Event(name=name, runId=run_id, ts=ts, data=unpack(name, json.loads(packed)))

    def last_all_id(self) -> str:
        """The newest id of the all-runs stream, or ``0-0``."""
        newest: Any = self.redis.xrevrange(self.all_key, count=1)
        return _text(newest[0][0]) if newest else "0-0"

    def read(self, positions: dict[str, str], block_ms: int) -> dict[str, list[tuple[str, dict[str, str]]]]:
        """New entries of the given streams after their ids, waiting up to ``block_ms``."""
        reply: Any = self.redis.xread(positions, block=block_ms, count=1000)  # type: ignore[arg-type]
        out: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for key, entries in reply or []:
            out[_text(key)] = [(_text(i), {_text(k): _text(v) for k, v in f.items()}) for i, f in entries]
        return out


class Outbox(threading.Thread):
    """A worker's events, waiting to go out with the engine's next write (``RunStore.riders``).

    Most events are followed within microseconds by a write of the engine (the next step's start,
    the wait, the run's end, the hand-off to the next run): taking them along costs no round trip
    of their own. What no write took within ``linger`` seconds (the start of a long step) this
    thread writes itself. Writes hold the lock, so events reach Redis in the order they were emitted.
    """

    # Polls without an event before the thread sleeps until the next one (``put`` wakes it): a busy
    # worker's emits then cost no wake-up call each, and an idle one costs no polling.
    park_after = 20

    def __init__(self, realtime: Realtime, linger: float = 0.005) -> None:
        super().__init__(name="hitl-outbox", daemon=True)
        self.realtime = realtime
        self.linger = linger
        self.items: list[Item] = []
        self.since = 0.0  # when the oldest queued event was queued
        self.lock = threading.Lock()
        self.parked = False
        self.wake = threading.Event()
        self.start()

    def put(self, item: Item) -> None:
        """Queue one event."""
        with self.lock:
            if not self.items:
                self.since = time.monotonic()
            self.items.append(item)
        if self.parked:
            self.wake.set()

    def take_args(self) -> list[Any]:
        """The queued events as script arguments (``Realtime.event_args``), taken off the outbox."""
        with self.lock:
            items, self.items = self.items, []
        return self.realtime.event_args(items) if items else []

    def flush(self, older_than: float = 0.0) -> None:
        """Write the queued events now (only if the oldest was queued ``older_than`` seconds ago)."""
        with self.lock:
            if self.items and time.monotonic() - self.since >= older_than:
                items, self.items = self.items, []
                self.realtime.write(items)

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
                log.exception("could not write realtime events")


def script_text(name: str) -> str:
    """A Lua script of this package, with the ``store_events`` function it may call."""
    folder = resources.files(__package__)
    return folder.joinpath("store_events.lua").read_text() + folder.joinpath(name).read_text()
