"""Runs stored before the keys had hash tags (``<p>:run:<id>``) keep working after an upgrade.

The old layout is written here key by key, as earlier versions left it; the new code then finds
each run where it was (a script that meets one renames its keys first), and the sweepers rename
the rest (``migrate.lua``), keeping each key's expiry.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from hitl_web.engine import Client, RunStatus
from hitl_web.engine.models import Step, StepStatus, StepType
from hitl_web.engine.outcomes import Refusal
from tests.conftest import Workers, wait_for_status, wait_until


def old_run(rconn: redis.Redis, p: str, run_id: str, status: str, steps: list[Step], **fields: Any) -> None:
    """One run in the old layout: its hash, steps and journal under ``<p>:<kind>:<run id>``, and its index entry."""
    now = time.time()
    created = fields.pop("created", now - 60)
    rconn.hset(f"{p}:run:{run_id}", mapping={"workflow": "waiter", "status": status, "created": f"{created:.3f}",
                                             "updated": f"{now:.3f}", **fields})  # fmt: skip
    if steps:
        rconn.rpush(f"{p}:steps:{run_id}", *(s.to_json() for s in steps))
    rconn.rpush(f"{p}:rt:{run_id}", f"{int(now * 1000)}-0 runStart 0 {{}}")
    rconn.zadd(f"{p}:runs", {run_id: created})


def waiting(rconn: redis.Redis, p: str, run_id: str, event_id: str, **step: Any) -> None:
    """A run of tests.flows' ``waiter`` waiting on ``event_id`` (its step 0), as the old layout kept it."""
    deadline = round(time.time() + 3600, 3)
    wait = Step("wait", StepType.WAIT, StepStatus.WAITING, time.time(), event_id=event_id, deadline=deadline, **step)
    old_run(rconn, p, run_id, "waiting", [wait], payload=json.dumps({"event_id": event_id}), wait_index="0")
    rconn.hset(f"{p}:waiters", event_id, run_id)
    rconn.zadd(f"{p}:runs:waiting", {run_id: deadline})


def old_keys(rconn: redis.Redis, p: str) -> list[str]:
    """Every key still named as in the old layout."""
    found = [k for kind in ("run", "steps", "rt", "lookback") for k in rconn.scan_iter(f"{p}:{kind}:*", count=1000)]
    return [k for k in found if "{" not in k]


def test_runs_of_the_old_layout_are_found_then_migrated(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    p, now = client.settings.key_prefix, time.time()
    waiting(rconn, p, "old-waiting", "go-old")
    waiting(rconn, p, "old-decide", "sign-old", approvers=["alice"])
    waiting(rconn, p, "old-untouched", "go-untouched")
    done = Step("after", StepType.RUN, StepStatus.COMPLETED, now - 30, now - 29, result=None)
    old_run(rconn, p, "old-done", "completed", [done], payload="{}", result='{"ok": 1}', finished=f"{now - 29:.3f}")
    for key in ("run", "steps", "rt"):
        rconn.expire(f"{p}:{key}:old-done", 3600)
    rconn.zadd(f"{p}:runs:completed", {"old-done": now - 29})
    # Running, its lease run out (a worker died before the upgrade), and a decision kept for its wait.
    old_run(rconn, p, "old-early", "running", [], payload=json.dumps({"event_id": "go-early"}), due="lease", owner="x")
    rconn.zadd(f"{p}:due", {"old-early": now - 1})
    rconn.zadd(f"{p}:runs:running", {"old-early": now - 60})
    kept = {"event_data": {"early": True}, "timeout": False, "at": now, "receipt": None}
    rconn.hset(f"{p}:lookback:old-early", "go-early", json.dumps(kept))
    rconn.rpush(f"{p}:lookback:old-early:order", "go-early")
    journal = rconn.lrange(f"{p}:rt:old-done", 0, -1)

    # The new code, before any sweep: each script that meets an old run renames its keys first.
    keys = client.store.keys
    run = client.get_run("old-done")
    assert run.status is RunStatus.COMPLETED and run.result == {"ok": 1} and run.steps[0].name == "after"
    assert 3000 < rconn.ttl(keys.run("old-done")) <= 3600 and 3000 < rconn.ttl(keys.journal("old-done")) <= 3600
    assert rconn.lrange(keys.journal("old-done"), 0, -1) == journal
    assert [w.run_id for w in client.get_waiters("go-old")] == ["old-waiting"]
    refused = client.decide("sign-old", {"approved": True}, "old-decide", receipt={"by": "bob"})
    assert [(w.run_id, why) for w, why in refused.refused] == [("old-decide", Refusal.NOT_APPROVER)]
    assert rconn.exists(f"{p}:run:old-untouched") == 1  # not met yet: the sweepers' migration renames it

    workers.start(1)
    wait_until(lambda: rconn.get(keys.layout) == "done")
    assert old_keys(rconn, p) == []
    assert rconn.hget(keys.run("old-untouched"), "status") == "waiting"
    assert {r.run_id for r in client.list_runs(status=RunStatus.WAITING)} == {
        "old-waiting",
        "old-decide",
        "old-untouched",
    }
    early = wait_for_status(client, "old-early", RunStatus.COMPLETED)
    assert early.result["event_data"] == {"early": True}
    assert [w.run_id for w in client.notify("go-old", {"n": 1})] == ["old-waiting"]
    assert wait_for_status(client, "old-waiting", RunStatus.COMPLETED).result["event_data"] == {"n": 1}
    decided = client.decide("sign-old", {"approved": True}, "old-decide", receipt={"by": "alice"})
    assert [w.run_id for w in decided.waiters] == ["old-decide"]
    run = wait_for_status(client, "old-decide", RunStatus.COMPLETED)
    assert run.steps[0].receipt is not None and run.steps[0].receipt["by"] == "alice"
    assert [w.run_id for w in client.notify("go-untouched", {"n": 2})] == ["old-untouched"]
    wait_for_status(client, "old-untouched", RunStatus.COMPLETED)
    completed = {r.run_id for r in client.list_runs(status=RunStatus.COMPLETED)}
    assert completed == {"old-done", "old-early", "old-waiting", "old-decide", "old-untouched"}


def test_the_migration_goes_a_batch_at_a_time_and_resumes(client: Client, rconn: redis.Redis) -> None:
    p = client.settings.key_prefix
    for i in range(7):
        waiting(rconn, p, f"old-{i}", f"ev-old-{i}")
    new = client.trigger("waiter", {"event_id": "ev-new"})
    calls = 0
    while not client.store.upgrades.migrate(count=3):  # the cursor goes on where the last call stopped
        calls += 1
        assert calls < 10
    assert calls == 2 and old_keys(rconn, p) == [] and rconn.get(client.store.keys.layout) == "done"
    assert [client.get_run(f"old-{i}").status for i in range(7)] == [RunStatus.WAITING] * 7
    assert client.get_run(new).status is RunStatus.RUNNING
    assert client.store.upgrades.migrate()  # done: one GET
