"""Channels: one bounded Redis Stream per run (plus one for every run), holding compact JSON events."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from .schema import Event, validate


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

    def emit(self, name: str, data: dict[str, Any] | Any) -> str:
        """Validate and append an event; returns its stream id. Also noted on the all-runs stream."""
        payload = validate(name, data)
        body = json.dumps({"runId": self.run_id, "ts": time.time(), "data": payload}, separators=(",", ":"))
        bounds = self.realtime.bounds
        with self.realtime.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self.key, {"e": name, "d": body}, maxlen=bounds.max_len, approximate=True)
            pipe.expire(self.key, bounds.ttl_seconds)
            pipe.xadd(self.realtime.all_key, {"e": name, "r": self.run_id}, maxlen=bounds.max_len, approximate=True)
            stream_id, *_ = pipe.execute()
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
    """Entry point: ``realtime.channel(run_id).emit(name, data)``."""

    def __init__(self, connection: redis.Redis, prefix: str = "hitl", bounds: StreamSettings | None = None) -> None:
        self.redis = connection
        self.prefix = prefix
        self.bounds = bounds or StreamSettings()

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
