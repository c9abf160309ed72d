"""Durations as the Upstash SDK writes them: ``"30s"``, ``"5m"``, ``"2h"``, ``"7d"``, or seconds."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from .errors import InvalidDuration

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")

Duration = str | int | float | timedelta


def parse_duration(value: Duration) -> float:
    """Seconds in ``value``; compound strings such as ``"1h30m"`` are accepted too."""
    if isinstance(value, bool):
        raise InvalidDuration(f"invalid duration {value!r}: expected seconds or a string like '5m'")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value.strip()))
    else:
        raise InvalidDuration(f"invalid duration {value!r}: expected seconds or a string like '30s', '5m', '2h', '7d'")
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidDuration(f"invalid duration {value!r}: must be a finite, non-negative time")
    return seconds
