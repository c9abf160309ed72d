"""The inbox page's view: the open asks the viewer may decide, soonest deadline first, with time left."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from ..engine import Client, RunNotFound, StepStatus, StepType
from .security import current_user, open_mode, signed_in
from .state import client as current_client
from .viewer import Viewer, not_offered
from .views import fmt_time

PAGE = 100  # asks read per round from the index
BADGE_CAP = 100  # the header's badge counts this far, then shows "99+" (_inbox_count.html)
SCAN_MAX = 2000  # with a workflow filter, asks read at most before the page shows what it found


@dataclass(frozen=True)
class InboxItem:
    """One open ask the viewer may decide."""

    run_id: str
    index: int
    workflow: str
    message: str
    deadline_text: str
    left: str  # "in 3 h 5 min", or "overdue by 4 min" (to its due date, if it has one, else its deadline)
    overdue: bool
    due: bool = False  # ``left`` counts to the ask's due date
    escalated: bool = False  # its ladder added approvers: nobody decided it in time (rungs.py)


def time_left(seconds: float) -> str:
    """A span as people read it on a deadline: "2 d 3 h", "5 h 12 min", "4 min", "under a minute"."""
    minutes = int(abs(seconds) // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min" if mins else "under a minute"


def inbox_items(client: Client, viewer: Viewer, workflow: str = "", limit: int = 50) -> list[InboxItem]:
    """The open asks ``viewer`` may decide (of ``workflow`` only, if given), soonest deadline first."""
    items: list[InboxItem] = []
    offset, now = 0, time.time()
    while len(items) < limit and offset < SCAN_MAX:
        asks = client.inbox.asks(viewer.name, limit=PAGE, offset=offset)
        offset += len(asks)
        for ask in asks:
            try:
                run = client.get_run(ask.run_id)
            except RunNotFound:
                continue
            if not 0 <= ask.index < len(run.steps) or (workflow and run.workflow != workflow):
                continue
            step = run.steps[ask.index]
            if step.type is not StepType.WAIT or step.status is not StepStatus.WAITING:
                continue  # decided a moment ago: its script takes it out of the index
            if not_offered(viewer, run, ask.index, step):
                continue  # their own run, or voted already
            left = (step.due or step.deadline or ask.deadline) - now  # the index scores it the same way
            shown = time_left(left)
            escalated = any(r.get("escalated") for r in step.reassignments or [])
            items.append(InboxItem(run.run_id, ask.index, run.workflow, step.message or step.name,
                                   fmt_time(step.deadline), f"in {shown}" if left >= 0 else f"overdue by {shown}",
                                   left < 0, step.due is not None, escalated))  # fmt: skip
        if len(asks) < PAGE:
            break
    return items[:limit]


def header_count() -> int | None:
    """The header's inbox badge: the asks filed for the visitor (None for a visitor who cannot decide).

    A page must render when Redis fails (the error page has the header too): then there is no badge.
    """
    if not open_mode() and not signed_in():
        return None
    try:
        return current_client().inbox.count(current_user(), cap=BADGE_CAP)
    except redis.RedisError:
        return None
