"""hitl-web's log lines: ``key=value`` text, or with ``HITL_LOG_FORMAT=json`` one JSON object per line.

Every line hitl-web logs names what it is about as ``key=value`` pairs (``run=... workflow=...
step=... status=... duration_ms=... principal=...``). The JSON format lifts those pairs into fields,
so a log shipper indexes run id, workflow, step, status, duration and principal without parsing text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from datetime import UTC, datetime

PAIR = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")
RENAMED = {"run": "run_id"}  # the field a shipper expects, where the text's key is shorter
NUMBERS = {"duration_ms", "attempt", "ask"}
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def fields_of(message: str) -> dict[str, object]:
    """The ``key=value`` pairs of a log message, quoted values unquoted, numbers as numbers."""
    found: dict[str, object] = {}
    for key, raw in PAIR.findall(message):
        value: object = raw[1:-1] if raw[:1] in {"'", '"'} and raw[-1:] == raw[:1] else raw
        if key in NUMBERS:
            with contextlib.suppress(ValueError):  # else kept as the text it was
                value = float(raw) if "." in raw else int(raw)
        found[RENAMED.get(key, key)] = value
    return found


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the message's ``key=value`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        message = record.getMessage()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            **fields_of(message),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter ``HITL_LOG_FORMAT`` names: ``text`` or ``json``."""
    return JsonLines() if log_format == "json" else logging.Formatter(TEXT)


def configure(log_format: str, level: str) -> None:
    """Send the ``hitl_web`` loggers' lines to stderr in ``log_format``, once per process."""
    logger = logging.getLogger("hitl_web")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter(log_format))
        logger.addHandler(handler)
        logger.setLevel(level)
