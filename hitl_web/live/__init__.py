"""Realtime: typed workflow events on per-run Redis Streams, emitted by a middleware."""

from __future__ import annotations

from .channel import Channel, Realtime, StreamSettings
from .schema import SCHEMA, Event, InvalidEvent

__all__ = ["SCHEMA", "Channel", "Event", "InvalidEvent", "Realtime", "StreamSettings"]
