"""`rq info` tells the truth about each worker: busy while it executes a run, idle once it waits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis
from rq import Queue
from rq import Worker as RQWorker

from hitl_web.devtools.embedded_redis import EmbeddedRedis
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from tests.conftest import Workers, wait_for_status, wait_until


def states(settings: Settings) -> dict[str, str]:
    """Each worker's state as RQ's own registry reads it (what `rq info` prints)."""
    conn = redis.Redis.from_url(settings.redis_url)
    queue = Queue(settings.queue_name, connection=conn)
    return {w.name: str(w.get_state()) for w in RQWorker.all(connection=conn, queue=queue)}


def rq_info(settings: Settings, redis_server: EmbeddedRedis) -> str:
    """`rq info`'s worker listing for the test's queue, as an operator would run it."""
    rq = Path(sys.executable).parent / "rq"
    out = subprocess.run(
        [str(rq), "info", "--url", redis_server.url, "--only-workers", settings.queue_name],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout


def test_rq_info_shows_busy_within_a_second_and_idle_after(
    client: Client, workers: Workers, settings: Settings, redis_server: EmbeddedRedis
) -> None:
    workers.start(2)
    wait_until(lambda: len(states(settings)) == 2 and set(states(settings).values()) == {"idle"}, timeout=20)
    # A first round of runs on each worker: their dequeues then claim as they always do (the very
    # first finds the scripts not loaded yet, and claims another way).
    for run_id in [client.trigger("slow", {"seconds": 0}) for _ in range(10)]:
        wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=15)
    wait_until(lambda: set(states(settings).values()) == {"idle"}, timeout=1.0, interval=0.05)
    run_id = client.trigger("slow", {"seconds": 3})
    # One worker takes the run and shows busy (the claim writes it), the other stays idle.
    wait_until(lambda: sorted(states(settings).values()) == ["busy", "idle"], timeout=1.0, interval=0.05)
    assert "busy" in rq_info(settings, redis_server)
    wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=15)
    wait_until(lambda: set(states(settings).values()) == {"idle"}, timeout=1.0, interval=0.05)
    assert "busy" not in rq_info(settings, redis_server)


def test_a_burst_of_runs_leaves_every_worker_idle(client: Client, workers: Workers, settings: Settings) -> None:
    """Hundreds of runs go from worker to worker by hand-off; once they are done, no state is left busy."""
    workers.start(2)
    wait_until(lambda: len(states(settings)) == 2, timeout=20)
    runs = [client.trigger("slow", {"seconds": 0}) for _ in range(200)]
    for run_id in runs:
        wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=30)
    wait_until(lambda: set(states(settings).values()) == {"idle"}, timeout=1.0, interval=0.05)
