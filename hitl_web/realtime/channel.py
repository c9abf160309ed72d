"""Channels: one bounded Redis Stream per run (plus one for every run), holding compact JSON events."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis

from .schema import Event, validate

log = logging.getLogger("hitl_web.realtime")

# Events after which a run's status differs: lists of runs re-render on these.
STATUS_EVENTS = frozenset(
    {"workflow.runStart", "workflow.waitingForInput", "workflow.inputResolved", "workflow.runFinish"}
)


@dataclass(frozen=True)
class StreamSettings:
    """Bounds of every channel's stream."""

    max_len: int = 1000
    ttl_seconds: int = 7 * 24 * 3600


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Channel:
    """The events of one run: ``emit`` appends, ``history`` and ``read`` replay from a stream id."""

    def __init__(self, realtime: Realtime, run_id: str) -> None:
        self.realtime = realtime
        self.run_id = run_id
        self.key = realtime.stream_key(run_id)

    def emit(self, name: str, data: dict[str, Any] | Any) -> str | None:
        """Validate and append an event; returns its stream id (``None`` when sent in the background).

        It is also noted on the all-runs stream, for pages that list runs.
        """
        payload = validate(name, data)
        body = json.dumps({"runId": self.run_id, "ts": time.time(), "data": payload}, separators=(",", ":"))
        if self.realtime.emitter is not None:
            self.realtime.emitter.put((self.key, self.run_id, name, body))
            return None
        with self.realtime.redis.pipeline(transaction=False) as pipe:
            self.realtime.append(pipe, self.key, self.run_id, name, body)
            stream_id = pipe.execute()[0]
        return _text(stream_id)

    def history(self, after: str = "0-0", count: int | None = None) -> list[tuple[str, Event]]:
        """Events after the stream id ``after`` (all by default), oldest first."""
        entries: Any = self.realtime.redis.xrange(self.key, min=f"({after}" if after != "0-0" else "-", count=count)
        return [(_text(i), parse_entry(f)) for i, f in entries]

    def last_id(self) -> str:
        """The id of the newest event, or ``0-0`` when there is none."""
        newest: Any = self.realtime.redis.xrevrange(self.key, count=1)
        return _text(newest[0][0]) if newest else "0-0"


def parse_entry(fields: dict[Any, Any]) -> Event:
    """An event from its stream entry."""
    f = {_text(k): _text(v) for k, v in fields.items()}
    body = json.loads(f["d"])
    return Event(name=f["e"], runId=body["runId"], ts=body["ts"], data=body["data"])


class Realtime:
    """Entry point: ``realtime.channel(run_id).emit(name, data)``.

    With ``background=True`` (workers), emits are queued and written by a thread in batches, so a
    run's steps do not wait for them; events still reach Redis in emit order, after the state
    they announce.
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
        self.emitter: Emitter | None = Emitter(self) if background else None

    def append(self, pipe: Any, key: str, run_id: str, name: str, body: str) -> None:
        """Queue one event's writes on ``pipe``: its run's stream (bounded, expiring) and the all-runs one.

        Only events that change a run's status go to the all-runs stream (lists of runs show status),
        and the expiry is renewed when a run starts, waits or finishes: a step costs one write.
        """
        bounds = self.bounds
        pipe.xadd(key, {"e": name, "d": body}, maxlen=bounds.max_len, approximate=True)
        if name in STATUS_EVENTS:
            pipe.expire(key, bounds.ttl_seconds)
            pipe.xadd(self.all_key, {"e": name, "r": run_id}, maxlen=bounds.max_len, approximate=True)

    def stream_key(self, run_id: str) -> str:
        """The stream of one run's events."""
        return f"{self.prefix}:rt:{run_id}"

    @property
    def all_key(self) -> str:
        """The stream noting every event of every run (for lists of runs)."""
        return f"{self.prefix}:rt:all"

    def channel(self, run_id: str) -> Channel:
        """The channel of ``run_id``."""
        return Channel(self, run_id)

    def last_all_id(self) -> str:
        """The newest id of the all-runs stream, or ``0-0``."""
        newest: Any = self.redis.xrevrange(self.all_key, count=1)
        return _text(newest[0][0]) if newest else "0-0"

    def read(self, positions: dict[str, str], block_ms: int) -> dict[str, list[tuple[str, dict[str, str]]]]:
        """New entries of the given streams after their ids, waiting up to ``block_ms``."""
        reply: Any = self.redis.xread(positions, block=block_ms, count=500)  # type: ignore[arg-type]
        out: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for key, entries in reply or []:
            out[_text(key)] = [(_text(i), {_text(k): _text(v) for k, v in f.items()}) for i, f in entries]
        return out


class Emitter(threading.Thread):
    """Writes queued events in batches, one pipeline per batch, in the order they were emitted."""

    def __init__(self, realtime: Realtime) -> None:
        super().__init__(name="hitl-emitter", daemon=True)
        self.realtime = realtime
        self.pending: queue.SimpleQueue[tuple[str, str, str, str] | None] = queue.SimpleQueue()
        self.idle = threading.Event()
        self.idle.set()
        self.start()

    def put(self, item: tuple[str, str, str, str]) -> None:
        """Queue one event (stream key, run id, name, body)."""
        self.idle.clear()
        self.pending.put(item)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event is written."""
        return self.idle.wait(timeout)

    def run(self) -> None:
        """Drain the queue forever; a failed batch is logged and dropped (events are informational)."""
        while True:
            batch = [self.pending.get()]
            while len(batch) < 200:
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.realtime.redis.pipeline(transaction=False) as pipe:
                    for item in batch:
                        if item is not None:
                            self.realtime.append(pipe, *item)
                    pipe.execute()
            except Exception:
                log.exception("could not write %d realtime events", len(batch))
            if self.pending.empty():
                self.idle.set()
