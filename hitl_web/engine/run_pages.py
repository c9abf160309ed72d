"""Browsing runs: a filter, and pages of runs walked with an opaque cursor (``browse.lua``).

A cursor names the last run a page examined, by its place in the index (score and id), not by an
offset: runs started, finished or cancelled between two pages never make a page repeat a run or skip
one that is still there.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from .models import Run, RunStatus

MAX_LIMIT = 200


class InvalidCursor(ValueError):
    """A cursor this server did not hand out (or one mangled on the way)."""


@dataclass(frozen=True)
class RunFilter:
    """Which runs a page holds: one status (or any of several), one workflow, created within [since, until]."""

    status: RunStatus | None = None
    any_of: tuple[RunStatus, ...] = ()  # with no ``status``: the index walked, each run's status checked
    workflow: str | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True)
class RunPage:
    """A page of runs, and the cursor of the next one (None: this was the last)."""

    runs: list[Run]
    cursor: str | None


def encode_cursor(score: str, run_id: str) -> str:
    """The opaque cursor of the entry at ``score`` named ``run_id``."""
    return base64.urlsafe_b64encode(f"{score}|{run_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (score, run id) a cursor names, or ``InvalidCursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, run_id = raw.split("|", 1)
        float(score)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not one this server handed out") from None
    if not run_id or len(run_id) > 200:
        raise InvalidCursor("the cursor is not one this server handed out")
    return score, run_id
