"""Durations as the Upstash SDK writes them: ``"30s"``, ``"5m"``, ``"2h"``, ``"7d"``, or seconds."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta

from .errors import DurationTooLong, InvalidDuration

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")

# The longest wait, sleep or retry delay: 10 years (of 365.25 days). A deadline past it would be a
# time no page can show (datetime ends at year 9999) and no run reaches; refused where it is set.
MAX_SECONDS = 10 * 365.25 * 86400
_LIMIT = f"the limit of 10 years ({MAX_SECONDS:.0f} s)"

Duration = str | int | float | timedelta
Instant = datetime | str | int | float  # a point in time: sleep_until's


def parse_duration(value: Duration) -> float:
    """Seconds in ``value`` (compound strings such as ``"1h30m"`` too), at most ``MAX_SECONDS``."""
    if isinstance(value, bool):
        raise InvalidDuration(f"invalid duration {value!r}: expected seconds or a string like '5m'")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int):
        seconds = float(max(-1, min(value, int(MAX_SECONDS) + 1)))  # float() of a huge int overflows
    elif isinstance(value, float):
        seconds = value
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value.strip()))
    else:
        expected = "expected seconds or a string like '30s', '5m', '2h', '7d'"
        raise InvalidDuration(f"invalid duration {_short(value)}: {expected}")
    if math.isnan(seconds) or seconds < 0:
        raise InvalidDuration(f"invalid duration {_short(value)}: must be a non-negative time")
    if seconds > MAX_SECONDS:  # infinity too: "9" * 400 + "s" is as absurd as "9" * 300 + "s"
        raise DurationTooLong(f"invalid duration {_short(value)}: longer than {_LIMIT}")
    return seconds


def spoken(seconds: float) -> str:
    """Seconds as the largest whole units that say them: 86400 -> "1d", 5400 -> "1h30m", 45 -> "45s"."""
    left, parts = round(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


def _short(value: object) -> str:
    """``value`` for a message: hostile input may be hundreds of digits long."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit for str()
        return "(a number of more than 4300 digits)"
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} characters)"


def instant(value: Instant) -> float:
    """Unix seconds of ``value``: an aware datetime, ISO 8601 text with its offset, or Unix seconds.

    A time without a zone is refused rather than guessed: local time and UTC differ by hours.
    """
    if isinstance(value, bool):
        raise InvalidDuration(f"invalid time {value!r}: expected a datetime, ISO 8601 text or Unix seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                expected = "expected ISO 8601, e.g. 2027-01-31T09:00:00+00:00"
                raise InvalidDuration(f"invalid time {_short(value)}: {expected}") from None
        if not isinstance(value, datetime):
            raise InvalidDuration(f"invalid time {_short(value)}: expected a datetime, ISO 8601 text or Unix seconds")
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidDuration(f"time {value.isoformat()} has no time zone: give one (e.g. +00:00)")
        seconds = value.timestamp()
    if math.isnan(seconds):
        raise InvalidDuration("invalid time nan: expected a datetime, ISO 8601 text or Unix seconds")
    if seconds - time.time() > MAX_SECONDS:  # infinity too
        raise DurationTooLong(f"time {_short(value)} is past {_LIMIT} from now")
    return seconds
