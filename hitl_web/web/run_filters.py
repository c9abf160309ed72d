"""What a request asks of the runs: a filter, a cursor, a page size, a search; one reading for page and API."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.datastructures import MultiDict

from ..engine import Client, Run, RunNotFound, RunStatus
from ..engine.run_pages import MAX_LIMIT, InvalidCursor, RunFilter, RunPage, decode_cursor

STATUSES = tuple(s.value for s in RunStatus)


class BadQuery(ValueError):
    """A filter the server cannot read; its message says which parameter and why."""


@dataclass(frozen=True)
class RunQuery:
    """The runs a request asks for."""

    where: RunFilter
    cursor: str | None = None
    limit: int = 50
    search: str = ""  # a run id or an event id: the run, or the runs waiting on it


def moment(raw: str, name: str) -> float | None:
    """``raw`` as epoch seconds: a number, or an ISO 8601 time (UTC unless it says otherwise)."""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise BadQuery(f"{name} must be epoch seconds or an ISO 8601 time, like 2026-12-03T09:00") from None
        value = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if not math.isfinite(value):
        raise BadQuery(f"{name} must be a finite time")
    return value


def read_query(args: MultiDict[str, str], default_limit: int = 50) -> RunQuery:
    """The query ``args`` states (status, workflow, since, until, cursor, limit, q), or ``BadQuery``."""
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadQuery(f"status must be one of {', '.join(STATUSES)}")
    try:
        limit = int(args.get("limit") or default_limit)
    except ValueError:
        raise BadQuery("limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit must be between 1 and {MAX_LIMIT}")
    cursor = args.get("cursor") or None
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except InvalidCursor as exc:
            raise BadQuery(str(exc)) from None
    workflow = (args.get("workflow") or "").strip() or None
    since, until = moment(args.get("since", ""), "since"), moment(args.get("until", ""), "until")
    where = RunFilter(RunStatus(status) if status else None, workflow=workflow, since=since, until=until)
    search = (args.get("q") or "").strip()
    if len(search) > 200:
        raise BadQuery("q is at most 200 characters (a run id or an event id)")
    return RunQuery(where, cursor, limit, search)


def find_runs(client: Client, query: RunQuery) -> RunPage:
    """The page ``query`` asks for: a search's run (or the runs waiting on that event id), else a filter's page."""
    if not query.search:
        return client.browse_runs(query.where, query.cursor, query.limit)
    found: dict[str, Run] = {}
    with contextlib.suppress(RunNotFound, ValueError):
        found[query.search] = client.get_run(query.search)
    for waiter in client.get_waiters(query.search)[: query.limit]:
        try:
            found.setdefault(waiter.run_id, client.get_run(waiter.run_id))
        except RunNotFound:
            continue  # finished and expired since
    return RunPage([run for run in found.values() if matches(run, query.where)], None)


def matches(run: Run, where: RunFilter) -> bool:
    """Whether ``run`` is one ``where`` selects (a search's runs are filtered too)."""
    return (
        (where.status is None or run.status is where.status)
        and (not where.any_of or run.status in where.any_of)
        and (where.workflow is None or run.workflow == where.workflow)
        and (where.since is None or run.created_at >= where.since)
        and (where.until is None or run.created_at <= where.until)
    )
