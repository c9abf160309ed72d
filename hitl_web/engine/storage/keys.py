"""The key schema: the name of every Redis key the engine keeps, in one place.

The KEYS of every script call are built here (``Keys.for_<script>``, by the names of its spec in
``scripts.py``), and the Lua scripts name the keys they find from data (a waiter, a due run, the
queue's head) with functions generated from the same templates (``lua.py``), so that moving keys
(a shard layout, a key-scoped ACL) is a change of this file only. The wake-up call's job id is
defined here too: it names a run, and Lua reads it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import cached_property

# A run's keys, by their names in the scripts' specs: the text before and after the run id, behind
# the prefix. The braces make the run id the hash tag: the keys of one run share a cluster slot.
RUN_KEYS: dict[str, tuple[str, str]] = {
    "run": (":run:{", "}"),
    "steps": (":steps:{", "}"),
    "journal": (":rt:{", "}"),
    "lookback": (":lookback:{", "}"),
    "lookback_order": (":lookback:{", "}:order"),
}
RUN_KEY_MEANINGS: dict[str, str] = {  # docs/architecture.md's key table shows these
    "run": "hash of the run's fields (status, workflow, payload, owner and lease, open asks, resolutions, result)",
    "steps": "list of its step records, in execution order",
    "journal": "list of its journal entries (its events, bounded)",
    "lookback": "hash of decisions kept until it waits on their event id",
    "lookback_order": "list of those event ids, oldest first",
}
# The same keys as versions before the hash tags named them; sweepers rename them (``migrate.lua``),
# and until then a script that meets such a run renames its keys first (``adopt``, ``_runs.lua``).
LEGACY_RUN_KEYS: dict[str, tuple[str, str]] = {
    "run": (":run:", ""),
    "steps": (":steps:", ""),
    "journal": (":rt:", ""),
    "lookback": (":lookback:", ""),
    "lookback_order": (":lookback:", ":order"),
}
STATUSES = ("running", "waiting", "completed", "failed", "cancelled")  # models.RunStatus, in index order
GROUP = ":group:"  # <p>:group:<name>: a group's members (Keys.group)
INBOX = ":inbox:"  # <p>:inbox:<approver entry>: the open asks for it (Keys.inbox)
MANY = "*"  # in the waiters hash: several runs wait on this event id (never a run id)

# A run's wake-up call is queued as "hitlrun_<12 hex>_<run id>" (RQ allows letters, digits, _ and -).
WAKE_UP = "hitlrun_"
NONCE_HEX = 12
# A notify waking several runs gives each a nonce of its own: a stem, then the run's count in 4 hex.
NONCE_COUNT_HEX = 4
NONCE_STEM_HEX = NONCE_HEX - NONCE_COUNT_HEX
_WAKE_UP_ID = re.compile(re.escape(WAKE_UP) + f"[0-9A-Fa-f]{{{NONCE_HEX}}}_(.+)", re.DOTALL)


def new_nonce(length: int = NONCE_HEX) -> str:
    """A fresh wake-up nonce (``length`` hex digits; a notify's stem is shorter)."""
    return uuid.uuid4().hex[:length]


def wake_up_id(run_id: str, nonce: str | None = None) -> str:
    """The job id of a wake-up call of ``run_id``: a fresh one, or the one ``nonce`` made."""
    return f"{WAKE_UP}{nonce or new_nonce()}_{run_id}"


def run_of_wake_up(job_id: str) -> str | None:
    """The run a queued wake-up call names, or None for any other job id."""
    found = _WAKE_UP_ID.fullmatch(job_id)
    return found.group(1) if found else None


@dataclass(frozen=True)
class RunKeys:
    """The keys of one run (``RUN_KEYS``)."""

    run_id: str
    run: str
    steps: str
    journal: str
    lookback: str
    lookback_order: str

    def named(self) -> dict[str, str]:
        """The keys by their names in the scripts' KEYS."""
        return {name: getattr(self, name) for name in RUN_KEYS}


@dataclass(frozen=True)
class Keys:
    """The keys under one prefix (several deployments, or test sessions, can share one Redis)."""

    prefix: str

    def of(self, run_id: str) -> RunKeys:
        """Every key of one run."""
        return self._run_keys(run_id, RUN_KEYS)

    def legacy(self, run_id: str) -> RunKeys:
        """One run's keys as versions before the hash tags named them."""
        return self._run_keys(run_id, LEGACY_RUN_KEYS)

    def _run_keys(self, run_id: str, layout: dict[str, tuple[str, str]]) -> RunKeys:
        p = self.prefix
        return RunKeys(run_id, *(f"{p}{before}{run_id}{after}" for before, after in layout.values()))

    def run(self, run_id: str) -> str:
        """Hash of one run's fields."""
        return self._key("run", run_id)

    def steps(self, run_id: str) -> str:
        """List of one run's step records, in execution order."""
        return self._key("steps", run_id)

    def journal(self, run_id: str) -> str:
        """List of one run's journal entries (its events, bounded)."""
        return self._key("journal", run_id)

    def _key(self, name: str, run_id: str) -> str:
        before, after = RUN_KEYS[name]
        return f"{self.prefix}{before}{run_id}{after}"

    @cached_property
    def announcements(self) -> str:
        """Stream announcing every journal entry of every run (what each web process's hub reads).

        Outside the runs' namespace (``<p>:rt:{<run id>}``), so that no run id can name it.
        """
        return f"{self.prefix}:rt"

    @cached_property
    def retired_announcements(self) -> str:
        """Where versions before ``announcements`` kept that stream (a run called ``all`` failed there)."""
        return f"{self.prefix}:rt:all"

    @cached_property
    def audit(self) -> str:
        """Stream of the audit trail: every human decision, vote, refusal and reassignment (``audit.py``)."""
        return f"{self.prefix}:audit"

    @cached_property
    def waiters(self) -> str:
        """Hash of event id -> the run waiting on it, or ``MANY`` (see ``many_waiters``)."""
        return f"{self.prefix}:waiters"

    def many_waiters(self, event_id: str) -> str:
        """Hash whose fields are the runs waiting on ``event_id``, when there are several."""
        return f"{self.prefix}:waiters:{event_id}"

    def group(self, name: str) -> str:
        """Set of the members of approver group ``name`` (``group:<name>`` in a wait's approvers)."""
        return f"{self.prefix}{GROUP}{name}"

    def inbox(self, entry: str) -> str:
        """Sorted set of the open asks ("<run id>:<index>", by deadline) naming ``entry`` among their approvers.

        ``entry`` is a user, ``group:<name>``, or '' for the asks any approver may decide.
        """
        return f"{self.prefix}{INBOX}{entry}"

    @cached_property
    def groups(self) -> str:
        """Set of the names of every approver group."""
        return f"{self.prefix}:groups"

    @cached_property
    def rungs(self) -> str:
        """Sorted set of open asks' reminders and escalations ("<run id>:<index>:<rung>") by when each is due."""
        return f"{self.prefix}:rungs"

    @cached_property
    def due(self) -> str:
        """Sorted set of running runs by their lease's end or a parked run's wake-up time."""
        return f"{self.prefix}:due"

    @cached_property
    def index(self) -> str:
        """Sorted set of every run id by creation time."""
        return f"{self.prefix}:runs"

    def status(self, status: str) -> str:
        """Sorted set of the runs with ``status``, by when each entered it; waiting runs by deadline."""
        return f"{self.prefix}:runs:{status}"

    @cached_property
    def statuses(self) -> dict[str, str]:
        """Every status set, by its status (the scripts' KEYS ``running``, ``waiting``, ...)."""
        return {status: self.status(status) for status in STATUSES}

    @cached_property
    def indexed(self) -> str:
        """The cursor of the runs stored before the status sets, entering them (``backfill``)."""
        return f"{self.prefix}:indexed"

    @cached_property
    def inboxed(self) -> str:
        """The cursor of the walk filing asks opened before the inbox index existed (``inbox_backfill.lua``)."""
        return f"{self.prefix}:inboxed"

    @cached_property
    def layout(self) -> str:
        """The cursor of the runs stored before the hash tags, taking their keys' names (``migrate.lua``)."""
        return f"{self.prefix}:layout"

    # -- the KEYS of each script's call, by the names of its spec (scripts.py) ---------------------
    def for_trigger(self, run_id: str, queue: str, queues: str) -> dict[str, str]:
        """KEYS of trigger.lua."""
        return {**self.of(run_id).named(), "index": self.index, **self.statuses, "due": self.due, "queue": queue,
                "queues": queues}  # fmt: skip

    def for_claim(self, run_id: str, intermediate: str) -> dict[str, str]:
        """KEYS of claim.lua (``intermediate``: '' with no wake-up call to clear)."""
        return {**self.of(run_id).named(), "due": self.due, "intermediate": intermediate}

    def for_handoff(self, queue: str) -> dict[str, str]:
        """KEYS of handoff.lua."""
        return {"queue": queue, "due": self.due}

    def for_write_step(self, run_id: str) -> dict[str, str]:
        """KEYS of write_step.lua."""
        return {"run": self._key("run", run_id), "steps": self._key("steps", run_id)}

    def for_wait(self, run_id: str, event_id: str, queue: str) -> dict[str, str]:
        """KEYS of wait.lua."""
        run = self.of(run_id)
        return {"run": run.run, "steps": run.steps, "lookback": run.lookback, "lookback_order": run.lookback_order,
                "waiters": self.waiters, "many_waiters": self.many_waiters(event_id), "due": self.due,
                "running": self.statuses["running"], "waiting": self.statuses["waiting"], "rungs": self.rungs,
                "queue": queue}  # fmt: skip

    def for_asks(self, run_id: str, queue: str) -> dict[str, str]:
        """KEYS of asks.lua."""
        run, s = self.of(run_id), self.statuses
        return {"run": run.run, "steps": run.steps, "lookback": run.lookback, "lookback_order": run.lookback_order,
                "waiters": self.waiters, "due": self.due, "running": s["running"], "waiting": s["waiting"],
                "rungs": self.rungs, "queue": queue}  # fmt: skip

    def for_resolve(self, event_id: str, run_id: str | None, queue: str, queues: str) -> dict[str, str]:
        """KEYS of resolve.lua (the run's keys '' when the notify names no run)."""
        run = self.of(run_id).named() if run_id else dict.fromkeys(RUN_KEYS, "")
        return {"waiters": self.waiters, "many_waiters": self.many_waiters(event_id), "due": self.due,
                "running": self.statuses["running"], "waiting": self.statuses["waiting"], "queue": queue,
                "queues": queues, **run, "audit": self.audit}  # fmt: skip

    def for_sweep(self) -> dict[str, str]:
        """KEYS of sweep.lua."""
        return {"due": self.due, "index": self.index, **self.statuses, "waiters": self.waiters, "indexed": self.indexed}

    def for_migrate(self) -> dict[str, str]:
        """KEYS of migrate.lua."""
        return {"index": self.index, "layout": self.layout}

    def for_inbox_backfill(self) -> dict[str, str]:
        """KEYS of inbox_backfill.lua."""
        return {"index": self.index, "inboxed": self.inboxed}

    def for_renew(self, run_id: str) -> dict[str, str]:
        """KEYS of renew.lua."""
        return {"run": self._key("run", run_id), "due": self.due}

    def for_park(self, run_id: str, queue: str) -> dict[str, str]:
        """KEYS of park.lua."""
        return {"run": self._key("run", run_id), "steps": self._key("steps", run_id), "due": self.due, "queue": queue}

    def for_finish(self, run_id: str, status: str, queue: str) -> dict[str, str]:
        """KEYS of finish.lua (``finished``: the status set of ``status``)."""
        return {**self.of(run_id).named(), "due": self.due, "running": self.statuses["running"],
                "finished": self.statuses[status], "waiters": self.waiters, "queue": queue}  # fmt: skip

    def for_cancel(self, run_id: str) -> dict[str, str]:
        """KEYS of cancel.lua."""
        s = self.statuses
        return {**self.of(run_id).named(), "waiters": self.waiters, "due": self.due, "running": s["running"],
                "waiting": s["waiting"], "cancelled": s["cancelled"], "audit": self.audit}  # fmt: skip

    def for_resume(self, run_id: str, queue: str, queues: str) -> dict[str, str]:
        """KEYS of resume.lua."""
        return {**self.of(run_id).named(), "due": self.due, "failed": self.statuses["failed"],
                "running": self.statuses["running"], "queue": queue, "queues": queues, "audit": self.audit}  # fmt: skip

    def for_read(self, run_id: str) -> dict[str, str]:
        """KEYS of read.lua."""
        return self.of(run_id).named()

    def for_page(self) -> dict[str, str]:
        """KEYS of page.lua."""
        return {"index": self.index, **self.statuses, "due": self.due}

    def for_take_moved(self, intermediate: str, worker: str) -> dict[str, str]:
        """KEYS of take_moved.lua (``worker``: RQ's hash of the worker, '' for none)."""
        return {"intermediate": intermediate, "due": self.due, "worker": worker}

    def for_wake(self, run_id: str, queue: str, queues: str) -> dict[str, str]:
        """KEYS of wake.lua."""
        return {"run": self._key("run", run_id), "queue": queue, "queues": queues}

    def for_reassign(self, run_id: str) -> dict[str, str]:
        """KEYS of reassign.lua."""
        return {"run": self._key("run", run_id), "steps": self._key("steps", run_id), "audit": self.audit,
                "rungs": self.rungs}  # fmt: skip

    def for_waiters(self, event_id: str) -> dict[str, str]:
        """KEYS of waiters.lua."""
        return {"waiters": self.waiters, "many_waiters": self.many_waiters(event_id)}
