"""RQ's worker loop made steady through a Redis outage (see ``hitl_web.engine.outages``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rq import SimpleWorker

from ..outages import describe, outage

log = logging.getLogger("hitl_web.worker")


class SteadyWorker(SimpleWorker):
    """RQ's SimpleWorker, whose loop never quits on a Redis outage.

    RQ's work loop quits on any error its dequeue does not catch, and it catches only connection
    errors there: an OOM reply, or a failed heartbeat, suspension check, maintenance or state write
    ended the process. Each of those is bookkeeping that the next turn of the loop writes again,
    so an outage skips it; the dequeue waits with backoff (see ``Worker.dequeue``).
    """

    @contextmanager
    def _skipped_while_out(self, what: str) -> Iterator[None]:
        """Run the block; an outage skips it (logged), any other error goes on up."""
        try:
            yield
        except Exception as exc:
            if outage(exc) is None:
                raise
            log.debug("worker %s: %s skipped: Redis %s", self.name, what, describe(exc))

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat; skipped while Redis is out (the sweeper's beat goes on trying)."""
        with self._skipped_while_out("heartbeat"):
            super().heartbeat(timeout, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's ``rq suspend`` check; skipped while Redis is out."""
        with self._skipped_while_out("suspension check"):
            super().check_for_suspension(burst)

    def run_maintenance_tasks(self) -> None:
        """RQ's registry cleanup; tried again on the next turn of the loop while Redis is out."""
        with self._skipped_while_out("maintenance"):
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ's state write; the state is kept in process (where stop handling reads it) while Redis is out."""
        with self._skipped_while_out("state write"):
            super().set_state(state, pipeline)

    def set_shutdown_requested_date(self) -> None:
        """RQ's note of a warm shutdown request (written from a signal handler); skipped while Redis is out."""
        with self._skipped_while_out("shutdown note"):
            super().set_shutdown_requested_date()  # type: ignore[no-untyped-call]

    def teardown(self) -> None:
        """RQ's teardown; without Redis the worker's record is left to expire (/healthz names it stale)."""
        with self._skipped_while_out("teardown"):
            super().teardown()  # type: ignore[no-untyped-call]
