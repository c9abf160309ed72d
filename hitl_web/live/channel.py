"""Reading the runs' journals: each run's events in a bounded list, all of them announced on one stream.

The engine writes them (``hitl_web.engine.journal``); this side only reads. Every event has an id
from the all-runs stream (``<ms>-<seq>``), so ids order events across runs and a page can resume
from the id it was rendered at.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from ..engine.events import Event, unpack
from ..engine.storage.keys import Keys

log = logging.getLogger("hitl_web.live")
_PACKED = json.JSONEncoder(separators=(",", ":"))  # an event's field values, as stored

# Events after which a run's status differs: lists of runs re-render on these.
# The events that move a run between the lists of runs and the inboxes (what EVERY_RUN subscribers hear).
STATUS_EVENTS = frozenset(
    {
        "workflow.runStart",
        "workflow.waitingForInput",
        "workflow.inputResolved",
        "workflow.runFinish",
        "workflow.voteCast",
        "workflow.askAnswered",
        "workflow.reassigned",
        "workflow.runResumed",
    }
)
PREFIX = "workflow."


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
    """Entry point of the read side: ``realtime.channel(run_id).history()``, ``realtime.read(...)``."""

    def __init__(self, connection: redis.Redis, prefix: str = "hitl") -> None:
        self.redis = connection
        self.prefix = prefix
        self.keys = Keys(prefix)

    def events_key(self, run_id: str) -> str:
        """The list of one run's events."""
        return self.keys.journal(run_id)

    @property
    def all_key(self) -> str:
        """The stream announcing every event of every run (what each web process's hub reads)."""
        return self.keys.announcements

    def channel(self, run_id: str) -> Channel:
        """The channel of ``run_id``."""
        return Channel(self, run_id)

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
