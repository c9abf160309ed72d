"""The durable engine against a real Redis and real RQ worker processes."""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import pytest
import redis

from hitl_web.engine import Client, RunStatus, StepStatus
from tests.conftest import Workers, wait_for_status, wait_until


def counts(rconn: redis.Redis, client: Client, run_id: str) -> dict[str, int]:
    prefix = f"{client.settings.key_prefix}:test:count:{run_id}:"
    return {k[len(prefix) :]: int(rconn.get(k)) for k in rconn.scan_iter(prefix + "*")}


def test_human_in_loop_approved(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = client.trigger("human-in-loop", {"userId": "ada", "action": "deploy"})
    run = wait_for_status(client, run_id, RunStatus.WAITING)
    assert [s.name for s in run.steps] == ["initial-processing", "wait-for-approval"]
    assert run.waits[0].event_id == f"approval-{run_id}"
    notified = client.notify(f"approval-{run_id}", {"approved": True})
    assert [w.run_id for w in notified] == [run_id]
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert [s.name for s in run.steps] == ["initial-processing", "wait-for-approval", "process-approved", "finalize"]
    assert run.result == {"success": True, "approved": True, "workflowRunId": run_id}
    assert run.steps[1].result == {"event_data": {"approved": True}, "timeout": False}


def test_human_in_loop_rejected_skips_finalize(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = client.trigger("human-in-loop", {"userId": "ada", "action": "deploy"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    client.notify(f"approval-{run_id}", {"approved": False})
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert [s.name for s in run.steps] == ["initial-processing", "wait-for-approval", "process-rejected"]
    assert run.result == {"success": True, "approved": False, "workflowRunId": run_id}


def test_basic_workflow_runs_three_steps(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = client.trigger("basic", {"message": "hi"})
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert [s.name for s in run.steps] == ["fetch-data", "process-data", "save-result"]
    assert all(s.status is StepStatus.COMPLETED for s in run.steps)
    assert run.steps[2].result == {"saved": True, "value": "HI"}


# 1. Replay never re-executes a completed step.
def test_replay_never_reexecutes_completed_steps(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("counted")
    run = wait_for_status(client, run_id, RunStatus.WAITING)
    assert counts(rconn, client, run_id) == {"one": 1, "two": 1}
    assert run.steps[1].result == {"two": 2}
    client.notify(f"ev-{run_id}", {"ok": "yes"})
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    # The second execution replayed "one" and "two" from Redis without calling them.
    assert counts(rconn, client, run_id) == {"one": 1, "two": 1, "three": 1, "four": 1}
    assert run.result == {"decision": {"ok": "yes"}, "timeout": False}
    assert run.steps[2].result == {"event_data": {"ok": "yes"}, "timeout": False}
    assert run.steps[3].result == {"ok": "yes"}


# 2. One worker, 1,000 runs waiting at once; all notified; all complete.
def test_thousand_waiting_runs_hold_no_worker(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    n = 1000
    started = time.monotonic()
    run_ids = [client.trigger("counted") for _ in range(n)]
    waiters_key = client.store.keys.waiters

    def all_waiting() -> bool:
        return rconn.hlen(waiters_key) == n

    wait_until(all_waiting, timeout=120, interval=0.2)
    reached_wait = time.monotonic() - started
    started = time.monotonic()
    for run_id in run_ids:
        assert len(client.notify(f"ev-{run_id}", {"n": run_id})) == 1
    notified = time.monotonic() - started
    wait_until(lambda: all(client.get_run(r).status is RunStatus.COMPLETED for r in run_ids), timeout=120, interval=0.5)
    runs = {r: client.get_run(r) for r in run_ids}
    resumed = time.monotonic() - started
    assert all(run.status is RunStatus.COMPLETED for run in runs.values())
    assert all(run.result == {"decision": {"n": r}, "timeout": False} for r, run in runs.items())
    # Every wake-up call (2,000) left RQ's queue and its intermediate queue, the latter with its claim.
    assert rconn.llen(client.engine.queue.key) == 0
    assert rconn.llen(client.engine.queue.intermediate_queue_key) == 0
    print(
        f"\n1000 runs: all waiting after {reached_wait:.2f}s; notify x1000 took {notified:.2f}s; "
        f"all completed {resumed:.2f}s after the first notify"
    )


# 3. Notify without a waiter; notify with a run id before the wait (lookback).
def test_notify_without_waiter_returns_empty_and_stores_nothing(client: Client, rconn: redis.Redis) -> None:
    before = sorted(rconn.scan_iter(f"{client.settings.key_prefix}:*"))
    assert client.notify("nobody-waits-for-this", {"approved": True}) == []
    assert sorted(rconn.scan_iter(f"{client.settings.key_prefix}:*")) == before


def test_notify_with_run_id_before_wait_is_kept_for_lookback(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = client.trigger("waiter", {"hold": 0.5, "event_id": "early-bird", "timeout": "1h"})
    assert client.notify("early-bird", {"approved": True}, workflow_run_id=run_id) == []
    run = wait_for_status(client, run_id, RunStatus.COMPLETED, RunStatus.WAITING)
    assert run.status is RunStatus.COMPLETED, "the kept notify should let the run go straight through"
    assert run.result["event_data"] == {"approved": True}
    assert run.result["timeout"] is False
    assert client.get_waiters("early-bird") == []


def test_lookback_notify_for_finished_run_is_not_kept(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("basic")
    wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert client.notify("late", {"x": 1}, workflow_run_id=run_id) == []
    assert not rconn.exists(client.store.keys.of(run_id).lookback)


# 4. Exactly one outcome per wait.
def test_fifty_concurrent_notifies_resolve_once(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("counted")
    wait_for_status(client, run_id, RunStatus.WAITING)
    results: list[Any] = []
    barrier = threading.Barrier(50)

    def notify(i: int) -> None:
        barrier.wait()
        results.append((i, client.notify(f"ev-{run_id}", {"who": i})))

    threads = [threading.Thread(target=notify, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [(i, w) for i, w in results if w]
    assert len(winners) == 1 and len(winners[0][1]) == 1
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result["decision"] == {"who": winners[0][0]}
    assert counts(rconn, client, run_id)["three"] == 1


def test_notify_racing_timeout_gives_exactly_one_outcome(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(2)
    n = 60
    # Deadlines 100 ms apart, so that each notify can be aimed at its own run's deadline.
    run_ids = [client.trigger("waiter", {"timeout": 1 + i / 10}) for i in range(n)]
    wait_until(lambda: all(client.get_run(r).status is RunStatus.WAITING for r in run_ids), timeout=30)
    # Aim each notify at its run's deadline, so some land just before it and some just after: from
    # 30 ms early to 150 ms late (past the sweep's 50 ms interval, so the timeout wins some for sure).
    outcomes = {}
    for run_id in run_ids:
        deadline = client.get_run(run_id).steps[0].deadline
        delay = deadline - time.time() + (0.03 * ((len(outcomes) % 7) - 1))
        if delay > 0:
            time.sleep(delay)
        outcomes[run_id] = client.notify(f"ev-{run_id}", {"by": "notify"})
    kinds = set()
    for run_id in run_ids:
        run = wait_for_status(client, run_id, RunStatus.COMPLETED)
        won = bool(outcomes[run_id])
        kinds.add(won)
        assert run.result["timeout"] is (not won)
        assert run.result["event_data"] == ({"by": "notify"} if won else None)
        assert counts(rconn, client, run_id) == {"after": 1}
    print(f"\nnotify won {sum(bool(v) for v in outcomes.values())} of {n}, timeout won the rest")
    assert kinds == {True, False}, "no race happened: every run had the same outcome"


# 5. Timeouts.
def test_timeout_fires_within_two_seconds_of_deadline(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_ids = [client.trigger("waiter", {"timeout": "1s"}) for _ in range(20)]
    lateness = []
    for run_id in run_ids:
        run = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=30)
        assert run.result["timeout"] is True and run.result["event_data"] is None
        wait_step = run.steps[0]
        assert wait_step.result == {"event_data": None, "timeout": True}
        lateness.append(wait_step.finished_at - wait_step.deadline)
    assert max(lateness) < 2.0
    assert min(lateness) >= 0
    print(
        f"\ntimeout lateness over 20 waits: max {max(lateness) * 1000:.0f} ms, "
        f"median {sorted(lateness)[10] * 1000:.0f} ms"
    )


def test_deadline_passed_while_no_worker_ran_fires_on_start(client: Client, workers: Workers) -> None:
    (first,) = workers.start(1)
    run_id = client.trigger("waiter", {"timeout": "1s"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    first.send_signal(signal.SIGTERM)
    first.wait(10)
    time.sleep(1.5)
    assert client.get_run(run_id).status is RunStatus.WAITING  # nobody fired it
    workers.start(1)
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result["timeout"] is True


# 6. A worker SIGKILLed mid-step.
def test_worker_killed_mid_step_another_finishes(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    procs = workers.start(2)
    run_id = client.trigger("slow", {"seconds": 1.5})
    pid_key = f"{client.settings.key_prefix}:test:slow-pid:{run_id}"
    first_pid = int(wait_until(lambda: rconn.lindex(pid_key, 0)))
    victim = next(p for p in procs if p.pid == first_pid)
    workers.kill(victim)
    run = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=30)
    survivor = next(p for p in procs if p is not victim)
    assert run.steps[1].result == survivor.pid
    c = counts(rconn, client, run_id)
    assert c["quick"] == 1, "the step completed before the kill ran again"
    assert c["slow-started"] == 2 and c["last"] == 1
    assert run.steps[1].attempts == 2


# 7. Non-determinism.
def test_renamed_step_fails_run_naming_both(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("renamed")
    wait_for_status(client, run_id, RunStatus.WAITING)
    rconn.set(f"{client.settings.key_prefix}:test:step-name:{run_id}", "renamed-step")
    client.notify(f"ev-{run_id}", {})
    run = wait_for_status(client, run_id, RunStatus.FAILED)
    assert "original-step" in run.error and "renamed-step" in run.error
    assert "NonDeterminism" in run.error


# 8. Retries, then failure; failure function and on_error once.
def test_failing_step_retried_then_run_fails(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("flaky")
    run = wait_for_status(client, run_id, RunStatus.FAILED)
    assert counts(rconn, client, run_id)["attempt"] == 3  # the first try and 2 retries
    assert run.steps[0].status is StepStatus.FAILED and run.steps[0].attempts == 3
    assert "boom 3" in run.error
    prefix = client.settings.key_prefix
    time.sleep(0.3)  # nothing else may arrive
    assert rconn.lrange(f"{prefix}:test:failure:{run_id}", 0, -1) == [
        "StepError|step 'fragile' failed: RuntimeError: boom 3"
    ]
    assert rconn.lrange(f"{prefix}:test:on_error:{run_id}", 0, -1) == ["step 'fragile' failed: RuntimeError: boom 3"]


def test_step_that_recovers_within_retries_completes(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("flaky", {"succeed_after": 2})
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.steps[0].result == "ok" and run.steps[0].attempts == 3
    assert not rconn.exists(f"{client.settings.key_prefix}:test:failure:{run_id}")


def test_non_retryable_error_fails_at_once(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("fatal")
    run = wait_for_status(client, run_id, RunStatus.FAILED)
    assert counts(rconn, client, run_id)["attempt"] == 1
    assert "do not retry" in run.error


def test_result_that_is_not_json_fails_clearly(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = client.trigger("bad-result")
    run = wait_for_status(client, run_id, RunStatus.FAILED)
    assert "not-json" in run.error and "not JSON-serialisable" in run.error


# 9. Middleware fires once per real execution, never on replay.
def test_middleware_fires_once_per_real_execution(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("hooked")
    wait_for_status(client, run_id, RunStatus.WAITING)
    key = f"{client.settings.key_prefix}:test:hooks:{run_id}"
    assert rconn.lrange(key, 0, -1) == [
        "run_started:",
        "before_execution:first",
        "after_execution:first=1",
        "before_execution:wait",
    ]
    client.notify(f"ev-{run_id}", {"approved": True})
    wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert rconn.lrange(key, 0, -1) == [
        "run_started:",
        "before_execution:first",
        "after_execution:first=1",
        "before_execution:wait",
        "after_execution:wait={'event_data': {'approved': True}, 'timeout': False}",
        "before_execution:second",
        "after_execution:second=2",
        "run_completed:",
    ]


# 10. Cancel.
def test_cancel_waiting_run(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("counted")
    wait_for_status(client, run_id, RunStatus.WAITING)
    assert client.get_waiters(f"ev-{run_id}")[0].run_id == run_id
    assert client.cancel_run(run_id) is RunStatus.CANCELLED
    run = client.get_run(run_id)
    assert run.status is RunStatus.CANCELLED and run.waits == []
    assert client.get_waiters(f"ev-{run_id}") == []
    assert client.notify(f"ev-{run_id}", {"approved": True}) == []
    time.sleep(0.3)
    assert client.get_run(run_id).status is RunStatus.CANCELLED
    assert "three" not in counts(rconn, client, run_id)
    assert client.cancel_run(run_id) is RunStatus.CANCELLED  # cancelling again changes nothing


def test_runs_sharing_an_event_id_are_notified_together(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    """Several runs on one event id: one cancelled, one timed out, one notify resolves the rest; nothing is left."""
    workers.start(1)
    shared = {"event_id": "release-window", "timeout": "1h"}
    run_ids = [client.trigger("waiter", shared) for _ in range(4)]
    short = client.trigger("waiter", {**shared, "timeout": "2s"})
    for run_id in [*run_ids, short]:
        wait_for_status(client, run_id, RunStatus.WAITING)
    assert sorted(w.run_id for w in client.get_waiters("release-window")) == sorted([*run_ids, short])
    assert {w.step_name for w in client.get_waiters("release-window")} == {"wait"}
    assert client.cancel_run(run_ids[0]) is RunStatus.CANCELLED
    assert wait_for_status(client, short, RunStatus.COMPLETED).result["timeout"] is True
    assert sorted(w.run_id for w in client.get_waiters("release-window")) == sorted(run_ids[1:])

    woken = client.notify("release-window", {"go": True})
    assert sorted(w.run_id for w in woken) == sorted(run_ids[1:])
    for run_id in run_ids[1:]:
        assert wait_for_status(client, run_id, RunStatus.COMPLETED).result["event_data"] == {"go": True}
    assert client.get_waiters("release-window") == []
    assert client.notify("release-window", {"go": True}) == []
    prefix = client.settings.key_prefix
    assert not rconn.hexists(f"{prefix}:waiters", "release-window")
    assert not rconn.exists(f"{prefix}:waiters:release-window")


def test_sleep_holds_no_worker_and_wakes(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = client.trigger("sleeper", {"seconds": 0.5})
    other = client.trigger("basic")
    wait_for_status(client, other, RunStatus.COMPLETED)  # the one worker was free during the nap
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert 0.5 <= run.result < 2.5
    assert run.steps[1].status is StepStatus.COMPLETED


def test_list_runs_newest_first_and_by_status(client: Client, workers: Workers) -> None:
    workers.start(1)
    done = client.trigger("basic")
    wait_for_status(client, done, RunStatus.COMPLETED)
    waiting = client.trigger("counted")
    wait_for_status(client, waiting, RunStatus.WAITING)
    assert [r.run_id for r in client.list_runs()] == [waiting, done]
    assert [r.run_id for r in client.list_runs(status="waiting")] == [waiting]
    assert [r.run_id for r in client.list_runs(status=RunStatus.COMPLETED)] == [done]
    assert client.list_runs(status="failed") == []
    assert json.loads(json.dumps(client.get_run(waiting).to_dict()))["status"] == "waiting"


def test_wake_up_ids_name_their_run() -> None:
    from hitl_web.engine.execution import run_of_wake_up, wake_up_id

    for run_id in ("wfr_a-b_c", "my-run-1", "x"):
        assert run_of_wake_up(wake_up_id(run_id)) == run_id
    assert run_of_wake_up("0b6f3c2e9a1d4e5f") is None  # an ordinary RQ job id
    assert run_of_wake_up("hitlrun_short") is None


def test_trigger_and_notify_queue_one_wake_up_call_each(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    """A trigger, and a notify to several waiting runs, each put one call per run on the queue, in one script."""
    from hitl_web.engine.execution import WAKE_UP, run_of_wake_up

    queue = client.engine.queue.key
    run_ids = [client.trigger("waiter", {"event_id": "go"}) for _ in range(3)]
    assert [run_of_wake_up(c) for c in rconn.lrange(queue, 0, -1)] == run_ids  # no worker yet
    assert queue in rconn.smembers(client.engine.queue.redis_queues_keys)
    workers.start(1)
    for run_id in run_ids:
        wait_for_status(client, run_id, RunStatus.WAITING)
    workers.stop_all()  # nobody takes the calls the notify queues
    assert rconn.llen(queue) == 0
    woken = client.notify("go", {"ok": True})
    assert sorted(w.run_id for w in woken) == sorted(run_ids)
    calls = rconn.lrange(queue, 0, -1)
    assert sorted(run_of_wake_up(c) or "" for c in calls) == sorted(run_ids)
    nonces = {c[len(WAKE_UP) : len(WAKE_UP) + 12] for c in calls}
    assert len(nonces) == 3  # each call its own
    for call in calls:  # the run keeps its call's nonce, to tell a queued call from a lost one
        assert rconn.hget(client.store.keys.run(run_of_wake_up(call) or ""), "job") in call
    workers.start(1)
    for run_id in run_ids:
        assert wait_for_status(client, run_id, RunStatus.COMPLETED).result["event_data"] == {"ok": True}


def test_other_rq_jobs_still_run_on_the_worker(client: Client, workers: Workers) -> None:
    from rq import Queue

    workers.start(1)
    job = Queue(client.settings.queue_name, connection=client.store.redis).enqueue("builtins.len", "abcd")
    wait_until(lambda: job.get_status(refresh=True) == "finished")
    assert job.return_value() == 4


def test_queued_runs_are_handed_off_and_other_jobs_still_run(
    client: Client, workers: Workers, rconn: redis.Redis
) -> None:
    """With wake-up calls queued, each execution's end takes the next run; an RQ job among them is left to RQ."""
    from rq import Queue

    from hitl_web.live import Realtime

    first = [client.trigger("counted") for _ in range(20)]
    job = Queue(client.settings.queue_name, connection=client.store.redis).enqueue("builtins.len", "abcd")
    second = [client.trigger("counted") for _ in range(20)]
    workers.start(1, {"HITL_LOG_LEVEL": "DEBUG"})
    run_ids = first + second
    for run_id in run_ids:
        wait_for_status(client, run_id, RunStatus.WAITING)
    wait_until(lambda: job.get_status(refresh=True) == "finished")
    assert job.return_value() == 4
    for run_id in run_ids:
        client.notify(f"ev-{run_id}", {"n": run_id})
    realtime = Realtime(client.store.redis, client.settings.key_prefix)
    timeline = ["runStart"] + ["stepStart", "stepFinish"] * 2 + ["waitingForInput", "inputResolved", "stepFinish"]
    timeline += ["stepStart", "stepFinish"] * 2 + ["runFinish"]
    for run_id in run_ids:
        run = wait_for_status(client, run_id, RunStatus.COMPLETED)
        assert run.result == {"decision": {"n": run_id}, "timeout": False}
        assert counts(rconn, client, run_id) == {"one": 1, "two": 1, "three": 1, "four": 1}
        channel = realtime.channel(run_id)
        wait_until(lambda c=channel: len(c.history()) == len(timeline))
        assert [e.name.removeprefix("workflow.") for _, e in channel.history()] == timeline
    assert "handed off" in workers.logs()  # most runs never went back through RQ's loop


def test_the_write_that_ends_an_execution_claims_the_next_queued_run(client: Client, rconn: redis.Redis) -> None:
    """A finish (or wait, or park) of a worker's execution takes the next wake-up call in the same round trip."""
    from hitl_web.engine.storage.store import Claim, Pending, new_token

    first, second = client.trigger("counted"), client.trigger("counted")
    store = client.store
    token = new_token()
    assert isinstance(store.claim(first, token), Claim)
    ended = store.finish(first, token, RunStatus.COMPLETED, Pending(), result={"ok": 1}, take_next=True)
    assert ended.taken and ended.handed is not None
    handed = ended.handed
    # The first run's own call came first in the queue: it is finished, so its call is dropped.
    assert handed.run_id == second and handed.claim.workflow == "counted" and handed.claim.steps == []
    assert rconn.hget(store.keys.run(second), "owner") == handed.token
    assert rconn.llen(client.engine.queue.key) == 0
    assert client.get_run(first).result == {"ok": 1}
    again = store.finish(first, token, RunStatus.COMPLETED, Pending(), take_next=True)
    assert not again.taken and again.handed is None  # no longer its owner


def test_a_dequeue_claims_the_run_its_wake_up_call_wakes(client: Client, rconn: redis.Redis) -> None:
    """The claim rides behind the BLMOVE; when two workers' BLMOVEs are served at once, each job is run once."""
    from rq import Queue
    from rq.exceptions import DequeueTimeout

    from hitl_web.engine.execution import Engine
    from hitl_web.engine.storage.store import Claim
    from hitl_web.engine.worker.rq_worker import Worker
    from hitl_web.engine.worker.wake_up_job import RunJob

    conn = client.store.redis
    queue = Queue(client.settings.queue_name, connection=conn)
    run_id = client.trigger("counted")
    wake_up = rconn.lpop(queue.key)  # taken back, to be pushed below
    job = queue.enqueue("builtins.len", "abcd")
    other = rconn.lpop(queue.key)
    assert other == job.id and wake_up and run_id in wake_up
    a, b = (
        Worker([queue], connection=conn, name=f"{client.settings.queue_name}-{n}", engine=Engine(conn, client.settings))
        for n in "ab"
    )
    with pytest.raises(DequeueTimeout):
        a.dequeue(queue, 1, job_class=RunJob)

    got: dict[str, Any] = {}

    def take(name: str, worker: Worker) -> None:
        got[name] = worker.dequeue(queue, 10, job_class=RunJob)

    first = threading.Thread(target=take, args=("a", a))
    first.start()
    time.sleep(0.3)  # a blocks first, so Redis serves it first
    second = threading.Thread(target=take, args=("b", b))
    second.start()
    time.sleep(0.3)
    rconn.rpush(queue.key, other, wake_up)  # a's BLMOVE moves the RQ job, b's the wake-up call
    first.join(10)
    second.join(10)
    # a's claim ran first and found b's call the newest: a runs that run, and the RQ job after it.
    a_job, _ = got["a"]
    assert a_job.id == wake_up and isinstance(a_job.claimed.claim, Claim)
    assert rconn.hget(client.store.keys.run(run_id), "owner") == a_job.claimed.token
    assert [j.id for j, _ in a.found] == [other]
    # b wakes holding the call only: its own claim is refused, so the run is executed once.
    b_job, _ = got["b"]
    assert b_job.id == wake_up and b_job.claimed is None
    # The claim wrote the claiming worker busy, in the same script (what `rq info` shows); b's refused
    # claim wrote nothing (idle is the sweeper's to write, once a dequeue waits: test_worker_state).
    assert rconn.hget(a.key, "state") == "busy" and rconn.hget(b.key, "state") != "busy"
    assert client.store.claim(run_id, "b-token") == "busy"
