"""The client: trigger runs, notify waits, inspect and cancel runs."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Iterator
from typing import Any

import redis

from ..connections import connect
from ..metrics import instruments
from ..settings import Settings
from .assignment import reassign
from .audit import AuditTrail
from .dead_letters import DeadLetters
from .errors import InvalidEventData, InvalidRunId, NotAllowed, RunExists, RunNotFound
from .execution import Engine
from .forms import decision_data, is_typed
from .groups import Groups
from .inbox import Inbox
from .invocations import tell_parent
from .models import Run, RunStatus, Step, Waiter, dumps
from .outcomes import Refusal, Resolution
from .quorum import approves
from .receipts import Receipt
from .registry import get_workflow
from .run_pages import MAX_LIMIT, RunFilter, RunPage

RUN_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")
CANCELLABLE = frozenset({RunStatus.RUNNING.value, RunStatus.WAITING.value})


def new_run_id() -> str:
    """A run id nobody can guess: 128 random bits."""
    return "wfr_" + secrets.token_urlsafe(16)


class Client:
    """Talks to the engine through Redis; safe to share between threads."""

    def __init__(self, connection: redis.Redis | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        if connection is None:
            if not self.settings.redis_url and not self.settings.redis_sentinels:
                raise RuntimeError("no Redis: set REDIS_URL (or REDIS_SENTINELS)")
            connection = connect(self.settings)
        self.engine = Engine(connection, self.settings)
        self.store = self.engine.store
        self.groups = Groups(connection, self.store.keys)  # group:<name> in a wait's approvers
        self.inbox = Inbox(connection, self.store.keys, self.groups)  # each principal's open asks
        self.audit = AuditTrail(connection, self.store.keys)  # every human decision, vote, refusal, reassignment
        self.dead_letters = DeadLetters(self)  # failed runs: resume from the failed step, or restart

    def trigger(
        self,
        workflow_name: str,
        payload: Any = None,
        workflow_run_id: str | None = None,
        *,
        triggered_by: str | None = None,
    ) -> str:
        """Start a run of ``workflow_name`` and return its id at once; ``triggered_by`` names who started it.

        The one place that applies the workflow's ``starters``: forms, the API and the CLI all name
        their principal here (library code that names none is not held to it).
        """
        wf = get_workflow(workflow_name)
        if wf.starters is not None and triggered_by is not None and triggered_by not in wf.starters:
            raise NotAllowed(f"only {', '.join(wf.starters) or 'nobody'} may start {wf.name!r}")
        stored = wf.validate_payload(payload)
        try:
            dumps(stored)
        except (TypeError, ValueError) as exc:
            raise InvalidEventData(f"payload is not JSON-serialisable: {exc}") from None
        run_id = workflow_run_id or new_run_id()
        if not RUN_ID.fullmatch(run_id):
            raise InvalidRunId("a run id is 1-128 letters, digits, '-' or '_'")
        if not self.store.create_run(run_id, wf.name, stored, triggered_by):
            raise RunExists(f"run {run_id!r} already exists")
        return run_id

    def notify(
        self,
        event_id: str,
        event_data: Any = None,
        workflow_run_id: str | None = None,
        *,
        receipt: Receipt | dict[str, Any] | None = None,
        lookback: bool = True,
    ) -> list[Waiter]:
        """Resolve the waits on ``event_id``; the runs notified (none: ``[]``, and nothing is stored).

        With ``workflow_run_id``, only that run is notified, and if it has not reached its wait yet
        the event is kept for it (lookback; ``lookback=False`` turns that off). ``receipt`` records who
        decided, for the run's history; its ``by`` is held to each wait's decision policy (``decide``).
        """
        return self.decide(event_id, event_data, workflow_run_id, receipt=receipt, lookback=lookback).waiters

    def decide(
        self,
        event_id: str,
        event_data: Any = None,
        workflow_run_id: str | None = None,
        *,
        receipt: Receipt | dict[str, Any] | None = None,
        lookback: bool = True,
        ask: Step | None = None,
    ) -> Resolution:
        """``notify``, saying also which waits refused the receipt's principal, and why.

        The policy (approvers, separation of duties, deadline, already decided) is applied by the
        script that resolves the waits, so no caller can skip it; without a receipt there is none.
        A typed ask refuses (``Refusal.FORM``) any decision but one made for it: pass its waiting
        step as ``ask``, and ``event_data`` is checked against its form here (``InvalidDecision``).
        A quorum ask counts the decision as the principal's vote (``Resolution.counted``) until
        the votes decide it (``quorum.approves``: which votes reject).
        """
        if not isinstance(event_id, str) or not event_id:
            raise ValueError("event_id must be a non-empty string")
        form = ""
        given = Receipt.of(receipt)
        if ask is not None and is_typed(ask):
            event_data, form = decision_data(ask, event_data), ask.form or ""
            given = given.proposing(ask.initial) if given is not None else None
        try:
            dumps(event_data)
        except (TypeError, ValueError) as exc:
            raise InvalidEventData(f"event data is not JSON-serialisable: {exc}") from None
        now = time.time()
        given = given.stamped(now) if given is not None else None
        stored = given.to_dict() if given is not None else None
        resolution: dict[str, Any] = {"event_data": event_data, "timeout": False, "at": now, "receipt": stored}
        if form:
            resolution["form"] = form  # a kept (lookback) decision names it too: wait.lua checks it
        principal = given.by if given is not None else ""
        approve, ballot = approves(event_data), ""
        if not approve:  # what a run waiting on several asks until the first rejection reads (_asks.lua)
            resolution["verdict"] = "reject"
        if given is not None and principal:  # what a quorum ask counts: the vote's own receipt
            ballot = dumps((given.answering(ask.prompt_sha256()) if ask is not None else given).vote(approve))
        # Each resumed run's wake-up call is queued already.
        done = self.store.resolve(
            event_id, resolution, workflow_run_id, lookback=lookback, principal=principal, form=form,
            vote=(approve, ballot),
        )  # fmt: skip
        for counted, tally in done.counted:  # the votes' pages show the tally at once
            vote = {"stepName": counted.step_name, "by": principal, "approve": approve,
                    "approvals": tally.approvals, "needed": tally.needed}  # fmt: skip
            self.engine.journal.append(counted.run_id, "workflow.voteCast", vote)
        for answered in done.answered:  # an ask of several: its page shows it answered before the run resumes
            said = {"eventId": event_id, "stepName": answered.step_name, "by": principal or None, "approve": approve}
            self.engine.journal.append(answered.run_id, "workflow.askAnswered", said)
        return done

    def reassign(
        self, run_id: str, index: int, to: list[str], reason: str, *, by: str, operator: bool = False
    ) -> Refusal | None:
        """Give the open ask at step ``index`` to the approvers ``to`` (users, ``group:<name>``), saying why.

        ``by`` is held to the ask's decision policy, as a decision would be, unless an ``operator``.
        None when done, else the policy's reason; ``InvalidReassignment`` for bad input.
        """
        return reassign(self.store, self.engine.journal, run_id, index, to, reason, by, operator)

    def get_waiters(self, event_id: str) -> list[Waiter]:
        """Runs waiting on ``event_id`` now."""
        return self.store.get_waiters(event_id)

    def cancel_run(self, run_id: str, *, by: str = "") -> RunStatus:
        """Cancel a running or waiting run; returns its status afterwards (unchanged if finished).

        ``by`` names who cancels it, for the audit trail ('' : library code, which it does not record).
        """
        previous, parent, workflow = self.store.cancel(run_id, by)
        if previous == "missing":
            raise RunNotFound(f"no run {run_id!r}")
        if self._taken(run_id, previous, parent, workflow):
            return RunStatus.CANCELLED
        return RunStatus(previous)

    def cancel(
        self,
        *,
        ids: Iterable[str] | None = None,
        workflow: str | None = None,
        status: RunStatus | str | None = None,
        by: str = "",
    ) -> int:
        """Cancel in bulk the runs named by ``ids``, or else those of ``workflow`` and/or ``status``: how many were.

        Only running and waiting runs can be cancelled; an id unknown or finished counts nothing.
        """
        if ids is not None:
            return sum(self._cancelled(run_id, by) for run_id in dict.fromkeys(ids))
        if workflow is None and status is None:
            raise ValueError("say which runs to cancel: ids, a workflow, a status, or a workflow and a status")
        wanted = RunStatus(status) if status is not None else None
        count = 0
        for one in [wanted] if wanted is not None else [RunStatus.WAITING, RunStatus.RUNNING]:
            if one not in {RunStatus.WAITING, RunStatus.RUNNING}:
                continue  # a finished run cannot be cancelled
            count += sum(self._cancelled(run.run_id, by) for run in self.each_run(RunFilter(one, workflow=workflow)))
        return count

    def _cancelled(self, run_id: str, by: str) -> bool:
        """Whether this call cancelled ``run_id`` (not: unknown, finished, or cancelled before)."""
        return self._taken(run_id, *self.store.cancel(run_id, by))

    def _taken(self, run_id: str, previous: str, parent: str, workflow: str) -> bool:
        """Whether a cancel that found the run ``previous`` took it; a child run (``invoke``) tells its parent."""
        if previous not in CANCELLABLE:
            return False
        instruments().runs_finished.labels(workflow, "cancelled").inc()
        if parent:  # the parent resumes with is_canceled
            tell_parent(self.store, run_id, parent, None, canceled=True)
        return True

    def browse_runs(self, where: RunFilter | None = None, cursor: str | None = None, limit: int = 50) -> RunPage:
        """A page of the runs ``where`` selects (newest first; waiting: soonest deadline first), after ``cursor``."""
        return self.store.browse(where or RunFilter(), cursor, limit)

    def each_run(self, where: RunFilter | None = None) -> Iterator[Run]:
        """Every run ``where`` selects, a page at a time: the cursor walk ``browse_runs`` pages take."""
        cursor: str | None = None
        while True:
            page = self.browse_runs(where, cursor, limit=MAX_LIMIT)
            yield from page.runs
            if page.cursor is None:
                return
            cursor = page.cursor

    def get_run(self, run_id: str) -> Run:
        """The run with its steps, open waits and outcome, or ``RunNotFound``."""
        return self.store.get_run(run_id)

    def list_runs(self, status: RunStatus | str | None = None, limit: int = 50, offset: int = 0) -> list[Run]:
        """Runs newest first, optionally only those with ``status``."""
        return self.store.list_runs(RunStatus(status) if status is not None else None, limit, offset)
