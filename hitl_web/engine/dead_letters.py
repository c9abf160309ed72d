"""The dead-letter list: failed runs, kept until they expire, each resumed from its failed step or restarted.

A run that failed for good (retries spent, a non-retryable error) stays in the failed index with
its steps. ``resume`` continues it where it failed: the failed step runs again with its attempts
anew, every completed step before it keeps its result (resume.lua, one script). ``restart`` starts
a new run of the same workflow with the same payload, from its first step. Both record who did it
in the audit trail, one run or many (by ids, or every failed run of a workflow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from .errors import RunNotFound
from .models import Run, RunStatus, StepStatus
from .run_pages import RunFilter

if TYPE_CHECKING:
    from .client import Client

T = TypeVar("T")


class DeadLetters:
    """Failed runs: list, resume, restart (``client.dead_letters``)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def runs(self, workflow: str | None = None) -> Iterator[Run]:
        """Every failed run (latest to fail first), of one workflow if given."""
        return self.client.each_run(RunFilter(RunStatus.FAILED, workflow=workflow))

    def resume(self, run_id: str, *, by: str = "") -> bool:
        """Resume the failed run ``run_id`` from its failed step; False when it is not failed (any more)."""
        run = self.client.get_run(run_id)
        failed = [i for i, step in enumerate(run.steps) if step.status is StepStatus.FAILED]
        index = failed[-1] if failed else -1  # -1: the workflow's body failed, outside a step
        again = replace(run.steps[index], status=StepStatus.RETRYING, attempts=0) if failed else None
        return self.client.store.resume(run_id, index, again, by) == RunStatus.FAILED.value

    def restart(self, run_id: str, *, by: str = "") -> str | None:
        """A new run of the failed run's workflow and payload, from its first step: its id (None: not failed)."""
        run = self.client.get_run(run_id)
        if run.status is not RunStatus.FAILED:
            return None
        new_id = self.client.trigger(run.workflow, run.payload, triggered_by=by or None)
        settings = self.client.settings
        self.client.audit.record("restarted", run_id, by or "(library)", new_id, max_len=settings.audit_max_len)
        return new_id

    def resume_all(self, ids: Iterable[str] | None = None, workflow: str | None = None, *, by: str = "") -> int:
        """Resume the failed runs ``ids``, or else every failed run (of ``workflow``): how many resumed."""
        return sum(bool(self._quietly(self.resume, run_id, by)) for run_id in self._chosen(ids, workflow))

    def restart_all(self, ids: Iterable[str] | None = None, workflow: str | None = None, *, by: str = "") -> list[str]:
        """Restart the failed runs ``ids``, or else every failed run (of ``workflow``): the new runs' ids."""
        started = (self._quietly(self.restart, run_id, by) for run_id in self._chosen(ids, workflow))
        return [new_id for new_id in started if new_id]

    def _chosen(self, ids: Iterable[str] | None, workflow: str | None) -> Iterator[str]:
        if ids is not None:
            yield from dict.fromkeys(ids)
            return
        # Every id first, then the changes: a resumed run leaves the failed index under the walk.
        yield from [run.run_id for run in self.runs(workflow)]

    @staticmethod
    def _quietly(action: Callable[..., T], run_id: str, by: str) -> T | None:
        """``action(run_id, by=by)``, None for a run that is gone (expired, or never was)."""
        try:
            return action(run_id, by=by)
        except RunNotFound:
            return None
