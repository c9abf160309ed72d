"""What runs once: a step's recorded result always; its function unless an execution dies or stalls mid-step."""

from __future__ import annotations

import signal

import redis

from hitl_web.engine import Client, RunStatus
from tests.conftest import Workers, wait_for_status, wait_until


def test_step_key_is_the_same_for_every_attempt_of_a_step(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    workers.start(1)
    run_id = client.trigger("keyed")
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    keys = rconn.lrange(f"{client.settings.key_prefix}:test:keys:{run_id}", 0, -1)
    assert keys == [f"{run_id}:0:charge"] * 2  # the failed attempt and the retry
    assert run.result == {"key": f"{run_id}:0:charge", "outside": "undefined"}
    assert run.steps[0].attempts == 2


def test_a_step_longer_than_its_lease_runs_once(client: Client, workers: Workers, rconn: redis.Redis) -> None:
    # The test settings' lease is 2 s: the sweeper thread renews it while the 5 s step runs.
    assert client.settings.lease_seconds == 2.0
    workers.start(2)
    run_id = client.trigger("slow", {"seconds": 5})
    run = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=40)
    assert rconn.llen(f"{client.settings.key_prefix}:test:slow-pid:{run_id}") == 1
    assert [s.attempts for s in run.steps] == [1, 1, 1]


def test_a_step_whose_worker_died_runs_again_with_the_same_key(
    client: Client, workers: Workers, rconn: redis.Redis
) -> None:
    procs = workers.start(2)
    run_id = client.trigger("keyed-slow", {"seconds": 1.5})
    keys = f"{client.settings.key_prefix}:test:keys:{run_id}"
    first = str(wait_until(lambda: rconn.lindex(keys, 0)))
    pid = int(first.split()[1])
    victim = next(p for p in procs if p.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    run = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=40)
    attempts = [entry.split()[0] for entry in rconn.lrange(keys, 0, -1)]
    assert attempts == [f"{run_id}:0:ship"] * 2  # at least once, recognisable as the same step
    assert run.result == f"{run_id}:0:ship"
