"""Live: the read side of the runs' journals (history, the all-runs stream) and the hub that fans it out."""

from __future__ import annotations

from ..engine.events import SCHEMA, Event, InvalidEvent
from .channel import Channel, Realtime

__all__ = ["SCHEMA", "Channel", "Event", "InvalidEvent", "Realtime"]
