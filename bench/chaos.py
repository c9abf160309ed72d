"""What the failover test and the chaos soak share: a load that records what was acknowledged, and the invariants.

The load drives ``soak`` runs (bench/flows.py) through the web processes' JSON API the way a careful
client does: a trigger or a decision that got no answer, a 503 or a dropped connection is sent again
(the run id is the client's, so a resent trigger is a 409, a resent decision "already decided").
What was answered 200 is the ledger; the invariants hold the final state to it.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from hitl_web.engine import Client, RunStatus
from hitl_web.engine.errors import RunNotFound
from hitl_web.live import Realtime


@dataclass
class Ledger:
    """What the web processes acknowledged (200), and what it took."""

    triggered: set[str] = field(default_factory=set)
    decided: dict[str, Any] = field(default_factory=dict)  # run id -> the eventData answered 200
    runs: list[str] = field(default_factory=list)  # every run the load started (acknowledged or not)
    answers: Counter[str] = field(default_factory=Counter)  # "trigger 503", "notify 409", "notify error"...
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, what: str) -> None:
        """Count one answer (or failure) of one kind."""
        with self.lock:
            self.answers[what] += 1


class Load:
    """Starts runs and decides them through ``webs`` (base URLs, taken in turn), each sent until it is answered."""

    def __init__(self, webs: list[str], ledger: Ledger | None = None, give_up_after: float = 120) -> None:
        self.webs = itertools.cycle(webs)
        self.lock = threading.Lock()
        self.ledger = ledger or Ledger()
        self.give_up_after = give_up_after

    def _web(self) -> str:
        with self.lock:
            return next(self.webs)

    def one_run(self) -> str:
        """Trigger a run and decide it; returns its id."""
        run_id = f"soak-{uuid.uuid4().hex}"
        with self.ledger.lock:
            self.ledger.runs.append(run_id)
        if self._send("trigger", {"workflowType": "soak", "workflowRunId": run_id}):
            with self.ledger.lock:
                self.ledger.triggered.add(run_id)
        decision = {"approved": True, "nonce": uuid.uuid4().hex}  # which decision counted, if two were sent
        if self._send("notify", {"eventId": f"soak-{run_id}", "workflowRunId": run_id, "eventData": decision}):
            with self.ledger.lock:
                self.ledger.decided[run_id] = decision
        return run_id

    def _send(self, what: str, body: dict[str, Any]) -> bool:
        """POST until answered: True for a 200, False for a 409 (an earlier attempt got through)."""
        deadline = time.monotonic() + self.give_up_after
        while time.monotonic() < deadline:
            status = post(f"{self._web()}/api/{what}", body)
            self.ledger.note(f"{what} {status}")
            if status == 200:
                return True
            if status == 409:
                return False
            time.sleep(random.uniform(0.1, 0.3))  # 503, a dropped connection, a web process restarting
        raise RuntimeError(f"{what} {body} was not answered within {self.give_up_after} s")

    def run(self, n: int, threads: int = 8) -> None:
        """``n`` runs, ``threads`` at a time."""
        todo = iter(range(n))
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    if next(todo, None) is None:
                        return
                self.one_run()

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()


def post(url: str, body: dict[str, Any]) -> int | str:
    """The status of one JSON POST, or "error" when no answer came (refused, reset, timed out)."""
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        err.read()
        return int(err.code)
    except OSError:
        return "error"


@dataclass
class Disruptions:
    """When the soak broke something: what explains a step that ran twice."""

    killed_pids: set[int] = field(default_factory=set)  # workers SIGKILLed (a step of theirs may run again)
    windows: list[tuple[float, float]] = field(default_factory=list)  # Redis failovers, from kill to recovery

    def explain(self, pid: int, at: float) -> bool:
        """Whether an execution by ``pid`` that started at ``at`` may have been interrupted mid-way."""
        return pid in self.killed_pids or any(start - 1 <= at <= end + 1 for start, end in self.windows)


def wait_finished(client: Client, run_ids: list[str], timeout: float) -> dict[str, str]:
    """Block until every run finished (or ``timeout``); each run's status."""
    deadline = time.monotonic() + timeout
    left = set(run_ids)
    statuses: dict[str, str] = {}
    while left and time.monotonic() < deadline:
        for run_id in list(left):
            try:
                status = client.get_run(run_id).status
            except RunNotFound:  # a trigger never answered 200 may never have been stored
                continue
            except redis.RedisError:  # mid-failover: ask again
                break
            statuses[run_id] = status.value
            if status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED):
                left.discard(run_id)
        if left:
            time.sleep(0.2)
    for run_id in left:
        statuses.setdefault(run_id, "missing")
    return statuses


def check(
    client: Client, ledger: Ledger, step_log: Path, disruptions: Disruptions, timeout: float = 120
) -> dict[str, Any]:
    """The invariants over every run of the load: counts of each, and the list of what broke them."""
    statuses = wait_finished(client, ledger.runs, timeout)
    journal = Realtime(client.store.redis, client.settings.key_prefix)
    broken: list[str] = []
    finished_once = one_outcome = announcements_lost = 0
    # A decision before the run waits is kept for it (lookback): its outcome then is "kept". A
    # decision resent after its answer was lost is kept again (one entry per delivery, the same
    # decision): one outcome is at most one "decided" and one decision however often it came.
    decisions: dict[str, list[dict[str, Any]]] = {}
    for e in client.audit.entries():
        if e["kind"] in ("decided", "kept"):
            decisions.setdefault(e["runId"], []).append(e)
    redelivered = 0
    for run_id in ledger.runs:
        if statuses[run_id] != "completed":
            broken.append(f"{run_id}: {statuses[run_id]}, not completed")
            continue
        # The journal announces a change after it is stored (its entries ride on the next write, or
        # the outbox's own): a failover may lose an announcement, never repeat one. Twice is a bug.
        names = Counter(event.name for _, event in journal.channel(run_id).history())
        finished, resolved = names["workflow.runFinish"], names["workflow.inputResolved"]
        finished_once += finished <= 1
        entries = decisions.get(run_id, [])
        distinct = {json.dumps(e["detail"].get("decision") if isinstance(e["detail"], dict) else e["detail"],
                               sort_keys=True) for e in entries}  # fmt: skip
        single = len(distinct) == 1 and sum(e["kind"] == "decided" for e in entries) <= 1
        one_outcome += resolved <= 1 and single
        redelivered += len(entries) > 1
        if not single:
            kinds = [(e["kind"], e["outcome"], e["detail"]) for e in entries]
            broken.append(f"{run_id}: not one decision in the audit trail: {kinds}")
        announcements_lost += (finished == 0) + (resolved == 0)
        if finished > 1 or resolved > 1:
            broken.append(f"{run_id}: {finished} runFinish, {resolved} inputResolved")
        result = client.get_run(run_id).result or {}
        if run_id in ledger.decided and result.get("decision") != ledger.decided[run_id]:
            broken.append(f"{run_id}: decision {ledger.decided[run_id]} acknowledged, {result.get('decision')} applied")
    lost_triggers = [r for r in ledger.triggered if statuses.get(r) == "missing"]
    broken += [f"{r}: trigger acknowledged, run missing" for r in lost_triggers]
    executions: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for line in step_log.read_text().splitlines() if step_log.exists() else []:
        run_id, step, pid, at = line.split()
        executions.setdefault((run_id, step), []).append((int(pid), float(at)))
    reruns = unexplained = 0
    for (run_id, step), runs in executions.items():
        for pid, at in sorted(runs, key=lambda r: r[1])[:-1]:  # every execution but the last was interrupted
            reruns += 1
            if not disruptions.explain(pid, at):
                unexplained += 1
                broken.append(f"{run_id}: step {step} ran again after a complete execution by pid {pid}")
    return {
        "runs": len(ledger.runs),
        "completed": sum(1 for s in statuses.values() if s == "completed"),
        "finished_exactly_once": finished_once,
        "one_outcome_per_ask": one_outcome,
        "triggers_acknowledged": len(ledger.triggered),
        "decisions_acknowledged": len(ledger.decided),
        "acknowledged_missing": len(lost_triggers),
        "announcements_lost": announcements_lost,
        "decisions_redelivered": redelivered,
        "steps_rerun": reruns,
        "steps_rerun_unexplained": unexplained,
        "answers": dict(sorted(ledger.answers.items())),
        "broken": broken[:20],
    }
