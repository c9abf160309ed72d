"""The value types of settings.py: comma-separated lists, durations, log levels, and how the environment gives them.

Like settings.py, this imports nothing of hitl-web (gunicorn reads the settings before gevent patches).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource


def _comma_separated(value: Any) -> Any:
    """``"a, b,,c"`` (from the environment) -> ``("a", "b", "c")``; a sequence given in code is kept."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


# The grammar of hitl_web.engine.durations (seconds in text need a unit). Only checked here: the engine's
# parse_duration converts it where it is used (and refuses more than 10 years).
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")


def _duration(value: str) -> str:
    """``value`` when it is a duration such as ``"30s"``, ``"8h"`` or ``"1h30m"``."""
    if not _DURATION.fullmatch(value.strip()):
        raise ValueError("expected a duration such as '30s', '5m', '8h', '7d' or '1h30m'")
    return value.strip()


def _host_ports(value: tuple[str, ...]) -> tuple[str, ...]:
    """``value`` when each item is ``host:port``."""
    for item in value:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, not {item!r}")
    return value


CommaSeparated = Annotated[tuple[str, ...], BeforeValidator(_comma_separated)]
HostPorts = Annotated[tuple[str, ...], BeforeValidator(_comma_separated), AfterValidator(_host_ports)]
DurationText = Annotated[str, AfterValidator(_duration)]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
]
WEEK = 7 * 24 * 3600


class ListsAsText(EnvSettingsSource):
    """The process environment, where a list is comma-separated text (pydantic-settings expects JSON)."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        """The raw text: ``_comma_separated`` splits it."""
        return value
