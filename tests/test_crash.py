"""Crashes and restarts with real processes: nothing is lost or done twice, every page catches up.

A Redis restart with 200 waiting runs is in tests/test_deploy.py.
"""

from __future__ import annotations

import random
import re
import threading
import time
import urllib.request

import redis
import simple_websocket

from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer
from tests.conftest import Workers, wait_for_status, wait_until


def test_workers_killed_twenty_times_during_a_stream_of_runs(
    workers: Workers, client: Client, rconn: redis.Redis
) -> None:
    workers.start(2)
    run_ids: list[str] = []
    done = threading.Event()

    def stream() -> None:
        while not done.is_set():
            run_ids.append(client.trigger("chain"))
            time.sleep(0.05)

    producer = threading.Thread(target=stream)
    producer.start()
    rng = random.Random(7)
    try:
        for _ in range(20):
            time.sleep(0.3)
            alive = [p for p in workers.procs if p.poll() is None]
            workers.kill(rng.choice(alive))
            workers.start(1)
    finally:
        done.set()
        producer.join()
    wait_until(lambda: all(client.get_run(r).status is RunStatus.COMPLETED for r in run_ids), timeout=120, interval=0.5)
    prefix = f"{client.settings.key_prefix}:test:count"
    redone = extra_attempts = 0
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert [s.name for s in run.steps] == ["a", "b", "c"] and run.result == 3  # no step lost or repeated
        counts = [int(rconn.get(f"{prefix}:{run_id}:{n}") or 0) for n in ("a", "b", "c")]
        attempts = [s.attempts for s in run.steps]
        assert all(c >= 1 for c in counts)
        # A step runs again only when its worker died after recording the attempt, so every
        # execution is a recorded attempt; an attempt can go unexecuted when the kill came between
        # the record and the step's first line.
        assert all(c <= a for c, a in zip(counts, attempts, strict=True)), (run_id, counts, attempts)
        redone += sum(counts) - 3
        extra_attempts += sum(attempts) - 3
    assert extra_attempts <= 20, "each kill interrupts at most one attempt"
    print(f"\n{len(run_ids)} runs through 20 worker kills; {redone} step executions were cut short and redone")


def render_after(web: WebServer, run_id: str) -> str:
    with urllib.request.urlopen(f"{web.url}/runs/{run_id}") as resp:
        match = re.search(r"\?after=([0-9-]+)", resp.read().decode())
    assert match
    return match.group(1)


def test_web_restarted_with_twenty_pages_open(web: WebServer, client: Client) -> None:
    run_ids = [client.trigger("human-in-loop") for _ in range(20)]
    for run_id in run_ids:
        wait_for_status(client, run_id, RunStatus.WAITING)
    # Each "page": its render id and a socket opened with it, as the htmx extension does.
    urls = {r: f"ws://127.0.0.1:{web.port}/ws/runs/{r}?after={render_after(web, r)}" for r in run_ids}
    sockets = {r: simple_websocket.Client.connect(u) for r, u in urls.items()}
    time.sleep(0.3)
    web.stop()
    for ws in sockets.values():
        wait_until(lambda ws=ws: not ws.connected, timeout=10)
        assert ws.close_reason == 1012
    for run_id in run_ids:  # decided while no web process runs
        client.notify(f"approval-{run_id}", {"approved": True}, run_id)
    for run_id in run_ids:
        wait_for_status(client, run_id, RunStatus.COMPLETED)
    web.start()
    for url in urls.values():  # reconnect with the same URL, as htmx does after 1012
        ws = simple_websocket.Client.connect(url)
        try:
            fragment = ws.receive(timeout=10)
            assert fragment is not None and 'data-status="completed"' in fragment
            assert "Workflow finished: approved" in fragment
        finally:
            ws.close()
