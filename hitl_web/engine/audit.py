"""The audit trail: every human decision, vote, refusal and reassignment, as the scripts recorded it.

The scripts that decide, count, refuse and reassign write each entry to one stream (``_waits.lua``'s
``to_audit``) in the same step as the change, so the trail cannot miss one. Entries are read here, in
order, filtered by time, run and principal: ``GET /api/audit`` exports them as JSON lines.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import redis

from .storage.keys import Keys
from .storage.replies import text

BATCH = 500


def entry(stream_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """One audit entry as plain data: its id and time, what happened, to which ask, by whom, and the detail."""
    detail: Any = fields.get("detail") or None
    if detail:
        with contextlib.suppress(ValueError):  # else kept as the text the script stored
            detail = json.loads(detail)
    index = fields.get("index", "")
    return {
        "id": stream_id,
        "at": int(stream_id.split("-", 1)[0]) / 1000,
        "kind": fields.get("kind", ""),
        "runId": fields.get("run", ""),
        "index": int(index) if index.isdigit() else None,
        "eventId": fields.get("event", ""),
        "by": fields.get("by", ""),
        "outcome": fields.get("outcome", ""),
        "detail": detail,
        "askSha1": fields.get("ask") or None,
    }


class AuditTrail:
    """Reads the audit trail."""

    def __init__(self, connection: redis.Redis, keys: Keys) -> None:
        self.redis = connection
        self.key = keys.audit

    def entries(
        self,
        since: float | None = None,
        until: float | None = None,
        run_id: str | None = None,
        principal: str | None = None,
        scan: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Entries oldest first, from ``since`` to ``until`` (epoch seconds), of one run or principal if given.

        ``scan`` bounds the entries read (a page's timeline; an export reads them all).
        """
        start = f"{int(since * 1000)}-0" if since is not None else "-"
        end = f"{int(until * 1000)}-99999999999" if until is not None else "+"
        read = 0
        while scan is None or read < scan:
            batch: list[Any] = list(self.redis.xrange(self.key, start, end, count=BATCH) or [])
            read += len(batch)
            for raw_id, raw in batch:
                fields = {text(k): text(v) for k, v in raw.items()}
                if run_id is not None and fields.get("run") != run_id:
                    continue
                if principal is not None and fields.get("by") != principal:
                    continue
                yield entry(text(raw_id), fields)
            if len(batch) < BATCH:
                return
            start = "(" + text(batch[-1][0])  # exclusive: after the last one read

    def record(self, kind: str, run_id: str, by: str, outcome: str, detail: str = "", max_len: int = 1_000_000) -> None:
        """One entry written outside a script (a restart: the new run is its own trigger's)."""
        fields = {"kind": kind, "run": run_id, "index": "", "event": "", "by": by, "outcome": outcome,
                  "detail": detail, "ask": ""}  # fmt: skip
        self.redis.xadd(self.key, fields, maxlen=max_len, approximate=True)  # type: ignore[arg-type]
