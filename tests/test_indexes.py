"""The indexes a page of runs reads stay exact through every transition, and a page costs its size."""

from __future__ import annotations

import time
from typing import Any

import redis
from flask import Flask

from hitl_web.connections import connect
from hitl_web.engine import Client, RunStatus
from hitl_web.engine.models import Step, StepStatus, StepType
from hitl_web.engine.storage import scripts
from hitl_web.engine.storage.store import Pending, new_token
from hitl_web.settings import Settings
from tests.conftest import Workers, wait_for_status, wait_until


def stored_statuses(rconn: redis.Redis, prefix: str) -> dict[str, set[str]]:
    """What the run hashes say: status -> run ids."""
    out: dict[str, set[str]] = {s.value: set() for s in RunStatus}
    for key in rconn.scan_iter(f"{prefix}:run:*", count=1000):
        status = rconn.hget(key, "status")
        if status:  # <p>:run:{<run id>} (keys.RUN_KEYS)
            out[str(status)].add(str(key).split(":run:", 1)[1].removeprefix("{").removesuffix("}"))
    return out


def assert_exact(client: Client, rconn: redis.Redis) -> dict[str, set[str]]:
    """Every index holds exactly the runs the run hashes say; ``list_runs`` pages agree."""
    prefix = client.settings.key_prefix
    truth = stored_statuses(rconn, prefix)
    for status in RunStatus:  # the raw sets first: a page read would put a stale entry right
        assert set(rconn.zrange(f"{prefix}:runs:{status.value}", 0, -1)) == truth[status.value], status
    assert set(rconn.zrange(f"{prefix}:runs", 0, -1)) == set().union(*truth.values())
    for status in RunStatus:
        assert {r.run_id for r in client.list_runs(status=status, limit=1000)} == truth[status.value], status
    return truth


def test_indexes_exact_through_every_transition(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(2)
    waiting = [client.trigger("counted") for _ in range(8)]
    timing_out = [client.trigger("waiter", {"timeout": "1s"}) for _ in range(2)]
    early = client.trigger("waiter", {"hold": 0.5, "event_id": "early-bird"})
    client.notify("early-bird", {"ok": True}, workflow_run_id=early)  # kept: the run is not waiting yet
    failed = client.trigger("fatal")
    done = client.trigger("basic")
    slow = client.trigger("slow", {"seconds": 3})
    for run_id in waiting:
        wait_for_status(client, run_id, RunStatus.WAITING)
    wait_for_status(client, failed, RunStatus.FAILED)
    wait_for_status(client, done, RunStatus.COMPLETED)
    wait_until(lambda: rconn.get(f"{client.settings.key_prefix}:test:count:{slow}:slow-started"))
    truth = assert_exact(client, rconn)
    assert set(waiting) <= truth["waiting"] and slow in truth["running"]

    for run_id in waiting[:3]:
        client.notify(f"ev-{run_id}", {"approved": True})
    client.cancel_run(waiting[3])
    client.cancel_run(slow)  # running: its step is cut short
    for run_id in waiting[:3]:
        wait_for_status(client, run_id, RunStatus.COMPLETED)
    for run_id in [*timing_out, early]:
        wait_for_status(client, run_id, RunStatus.COMPLETED)
    truth = assert_exact(client, rconn)
    assert truth["waiting"] == set(waiting[4:])
    assert truth["cancelled"] == {waiting[3], slow}
    assert truth["failed"] == {failed}
    assert client.get_run(timing_out[0]).result["timeout"] is True
    # Waiting runs come soonest deadline first; any run, newest first.
    deadlines = [r.waits[0].deadline for r in client.list_runs(status="waiting")]
    assert deadlines == sorted(deadlines) and len(deadlines) == 4
    created = [r.created_at for r in client.list_runs(limit=1000)]
    assert created == sorted(created, reverse=True) and len(created) == 14
    assert [r.run_id for r in client.list_runs(limit=3, offset=11)] == [r.run_id for r in client.list_runs()][11:]


def test_waiting_runs_soonest_deadline_first(client: Client, workers: Workers) -> None:
    workers.start(1)
    later, sooner, latest = (client.trigger("waiter", {"timeout": t}) for t in ("2h", "30m", "3h"))
    for run_id in (later, sooner, latest):
        wait_for_status(client, run_id, RunStatus.WAITING)
    assert [r.run_id for r in client.list_runs(status="waiting")] == [sooner, later, latest]
    assert [r.run_id for r in client.list_runs(status="waiting", limit=1, offset=1)] == [later]


def test_expired_runs_leave_the_indexes(settings: Settings, workers: Workers, rconn: redis.Redis) -> None:
    short = settings.model_copy(update={"finished_run_ttl": 1})
    client = Client(connect(short.redis_url), short)
    workers.start(1, extra_env={"HITL_FINISHED_RUN_TTL": "1"})
    finished = [client.trigger("basic") for _ in range(3)]
    waiting = client.trigger("counted")
    cancelled = client.trigger("counted")
    for run_id in finished:
        wait_for_status(client, run_id, RunStatus.COMPLETED)
    wait_for_status(client, cancelled, RunStatus.WAITING)
    client.cancel_run(cancelled)
    wait_for_status(client, waiting, RunStatus.WAITING)
    # The sweep takes them off the indexes once their keys expired; no page read needed.
    prefix = settings.key_prefix
    wait_until(lambda: rconn.zcard(f"{prefix}:runs") == 1, timeout=10)
    assert rconn.exists(*(client.store.keys.run(r) for r in [*finished, cancelled])) == 0
    assert assert_exact(client, rconn)["waiting"] == {waiting}

    # Without a worker (no sweep), a page read drops the expired runs it meets.
    workers.stop_all()
    more = [client.store.create_run(f"gone-{i}", "basic", None) for i in range(3)]
    assert all(more)
    for i in range(3):
        token = new_token()
        client.store.claim(f"gone-{i}", token)
        client.store.finish(f"gone-{i}", token, RunStatus.COMPLETED, Pending(), result=i)
    time.sleep(1.2)
    assert [r.run_id for r in client.list_runs()] == [waiting]
    assert client.list_runs(status="completed") == []
    assert rconn.zcard(f"{prefix}:runs") == 1 and rconn.zcard(f"{prefix}:runs:completed") == 0


def test_runs_stored_before_the_indexes_enter_them(client: Client, rconn: redis.Redis) -> None:
    store, prefix = client.store, client.settings.key_prefix
    for i in range(10):
        store.create_run(f"old-{i}", "basic", None)
    for i in range(4):  # four finished
        token = new_token()
        store.claim(f"old-{i}", token)
        store.finish(f"old-{i}", token, RunStatus.FAILED if i % 2 else RunStatus.COMPLETED, Pending(), error="x")
    token, deadline = new_token(), round(time.time() + 3600, 3)
    store.claim("old-9", token)
    step = Step("approve", StepType.WAIT, StepStatus.WAITING, time.time(), event_id="ev-old-9", deadline=deadline)
    assert store.wait("old-9", token, 0, step, Pending()).state == "waiting"
    # As an older version left them: no status sets, a waiting run's deadline in the due set.
    rconn.delete(*(f"{prefix}:runs:{s.value}" for s in RunStatus), f"{prefix}:indexed")
    rconn.zadd(f"{prefix}:due", {"old-9": deadline})
    rconn.zadd(f"{prefix}:runs", {"expired-long-ago": 1.0})
    while rconn.get(f"{prefix}:indexed") != "done":
        store.sweep(limit=3)  # three runs a sweep: the cursor goes on where it stopped
    assert not rconn.zscore(f"{prefix}:runs", "expired-long-ago")
    assert assert_exact(client, rconn)["running"] == {f"old-{i}" for i in range(4, 9)}
    assert rconn.zscore(f"{prefix}:runs:waiting", "old-9") == deadline
    assert rconn.zscore(f"{prefix}:due", "old-9") is None


def _seed_finished(client: Client, n: int) -> None:
    """``n`` completed runs, straight through the store's scripts (their specs), pipelined."""
    store, k = client.store, client.store.keys
    scripts.load_all(store.redis)
    now, p = time.time(), store.prefix
    stamp, lease = f"{now:.3f}", repr(now + 60)
    queue, queues = f"{p}:q", f"{p}:qs"  # wake-up calls nobody takes
    with store.redis.pipeline(transaction=False) as pipe:
        for i in range(n):
            rid = f"done-{i}"
            trigger = dict(prefix=p, run_id=rid, workflow="basic", payload="null", now=stamp, lease=lease, by="",
                           nonce="ab", parent="", depth="", min_replicas=0)  # fmt: skip
            scripts.TRIGGER.queue(pipe, k.for_trigger(rid, queue, queues), trigger)
            claim = dict(prefix=p, run_id=rid, token="tok", now=repr(now), lease=lease, job_id="")
            scripts.CLAIM.queue(pipe, k.for_claim(rid, ""), claim)
            finish = dict(prefix=p, run_id=rid, token="tok", records="", clear="0", status="completed", field="result",
                          value="1", now=stamp, ttl=0, next_token="", next_lease="")  # fmt: skip
            scripts.FINISH.queue(pipe, k.for_finish(rid, "completed", queue), finish)
            if i % 500 == 499:
                pipe.execute()
        pipe.execute()


def _commands(conn: redis.Redis) -> int:
    stats: dict[str, Any] = conn.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in {"cmdstat_info"})


def test_a_page_reads_only_its_entries(client: Client, app: Flask, rconn: redis.Redis) -> None:
    _seed_finished(client, 5000)
    waiting = [client.trigger("counted") for _ in range(30)]
    store = client.store
    for rid in waiting:  # reach their wait straight through the store, as a worker would
        token = new_token()
        store.claim(rid, token)
        deadline = time.time() + 3600
        step = Step("approve", StepType.WAIT, StepStatus.WAITING, time.time(), event_id=f"ev-{rid}", deadline=deadline)
        assert store.wait(rid, token, 0, step, Pending()).state == "waiting"
    assert rconn.zcard(f"{client.settings.key_prefix}:runs") == 5030

    client.list_runs(limit=1)  # loads the script: a first call costs a SCRIPT LOAD and a retry more

    def cost(read: Any) -> int:
        before = _commands(rconn)
        read()
        return _commands(rconn) - before  # INFO itself is not counted

    # One script: the page's index range, then each run's hash and steps (the old scan read all 5,030).
    assert cost(lambda: client.list_runs(status="waiting", limit=20)) == 2 + 2 * 20
    assert len(client.list_runs(status="waiting", limit=20)) == 20
    assert cost(lambda: client.list_runs(limit=20)) == 2 + 2 * 20
    assert cost(lambda: client.list_runs(status="completed", limit=20, offset=4000)) == 2 + 2 * 20
    http = app.test_client()
    assert cost(lambda: http.get("/api/runs?status=completed&limit=20")) <= 2 + 2 * 20 + 10
    # The index page: recent runs (20) and waiting runs (50 at most; 30 here), plus the page's own reads.
    page_cost = cost(lambda: http.get("/"))
    assert page_cost <= 2 * (2 + 2 * 50) + 20, page_cost


def test_lookback_keeps_the_newest_few_per_run(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    run_id = client.trigger("waiter", {"event_id": "decision-197"})  # no worker yet: it is not waiting
    data = {"blob": "x" * 60_000}
    for i in range(200):
        client.notify(f"decision-{i}", {**data, "i": i}, workflow_run_id=run_id)
    bound, keys = client.settings.lookback_max, client.store.keys.of(run_id)
    kept = [f"decision-{i}" for i in range(200 - bound, 200)]
    assert sorted(rconn.hkeys(keys.lookback)) == sorted(kept)
    assert rconn.lrange(keys.lookback_order, 0, -1) == kept  # oldest first
    assert rconn.hget(keys.run, "lookback_dropped") == str(200 - bound)
    assert int(rconn.memory_usage(keys.lookback) or 0) < (bound + 1) * 61_000
    # Notified again, an event id kept becomes the newest: the oldest other one goes.
    client.notify(kept[0], {"again": True}, workflow_run_id=run_id)
    client.notify("decision-200", {"i": 200}, workflow_run_id=run_id)
    order = rconn.lrange(keys.lookback_order, 0, -1)
    assert order == [*kept[2:], kept[0], "decision-200"] and len(order) == bound

    workers.start(1)
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result["event_data"]["i"] == 197 and run.result["timeout"] is False
    assert rconn.exists(keys.lookback, keys.lookback_order) == 0
