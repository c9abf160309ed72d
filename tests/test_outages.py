"""Redis outages with real processes: workers ride out a stopped or full Redis, /healthz tells the truth.

Each test starts a Redis of its own (a fixed port, restarted or filled), so no other test sees it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from hitl_web import create_app
from hitl_web.connections import connect
from hitl_web.devtools.embedded_redis import EmbeddedRedis
from hitl_web.engine import Client
from hitl_web.settings import Settings
from hitl_web.stack import WebServer, Workers
from tests.conftest import wait_until


def http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of one request (an error status is an answer, not an exception)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def approve(web: WebServer, run_id: str) -> tuple[int, dict[str, Any]]:
    """Approve the run's wait through the web process's API."""
    return http("POST", web.url + "/api/notify", {"eventId": f"approval-{run_id}", "eventData": {"approved": True}})


def alive(procs: list[subprocess.Popen[bytes]]) -> list[bool]:
    return [p.poll() is None for p in procs]


def statuses(client: Client, run_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run_id in run_ids:
        status = client.get_run(run_id).status.value
        counts[status] = counts.get(status, 0) + 1
    return counts


@pytest.fixture
def own_redis(settings: Settings, tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, Settings]]:
    """A Redis of this test's own, and settings pointing at it."""
    server = EmbeddedRedis(tmp_path / "redis").start()
    yield server, settings.model_copy(update={"redis_url": server.url})
    server.stop()


@pytest.fixture
def stack(
    own_redis: tuple[EmbeddedRedis, Settings], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[EmbeddedRedis, Settings, Workers]]:
    """Workers (started by the test) on the test's own Redis; their logs are shown when it failed."""
    server, own = own_redis
    workers = Workers(own, tmp_path / "workers")
    yield server, own, workers
    workers.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("--- worker logs (last 8000 characters) ---\n" + workers.logs()[-8000:])


# (a) Redis stopped for 3 s while 100 runs are queued or executing: no worker quits, every run completes.
def test_workers_ride_out_a_redis_restart_and_every_run_completes(
    stack: tuple[EmbeddedRedis, Settings, Workers],
) -> None:
    server, own, workers = stack
    procs = workers.start(2)
    client = Client(connect(own.redis_url), own)
    run_ids = [client.trigger("chain") for _ in range(100)]
    wait_until(lambda: statuses(client, run_ids).get("completed", 0) >= 5, timeout=30)
    server.stop()
    down_at = time.monotonic()
    time.sleep(3)
    server = EmbeddedRedis(server.data_dir, port=server.port).start()
    before = statuses(client, run_ids)
    print(f"Redis down {time.monotonic() - down_at:.1f} s; run statuses when it came back: {before}")
    assert before.get("completed", 0) < 100, "every run finished before the outage: it tested nothing"
    started = time.monotonic()
    wait_until(lambda: statuses(client, run_ids).get("completed", 0) == 100, timeout=120, interval=0.5)
    print(f"all 100 completed {time.monotonic() - started:.1f} s after Redis came back")
    assert alive(procs) == [True, True], workers.logs()[-3000:]
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert [s.name for s in run.steps] == ["a", "b", "c"] and run.result == 3
    assert "quitting" not in workers.logs()
    server.stop()


def fill(r: redis.Redis) -> int:
    """Set ``maxmemory`` just above what Redis uses and write filler until it refuses (OOM); returns the filler keys.

    Then ``maxmemory`` goes to half of what is used: right at the limit, a few freed buffers or
    keys let writes through again, and the test wants Redis full for its whole period.
    """
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory", int(r.info("memory")["used_memory"]) + 256 * 1024)
    written = 0
    while True:
        try:
            r.set(f"filler:{written}", b"x" * 16 * 1024)
        except redis.exceptions.OutOfMemoryError:
            break
        written += 1
    r.config_set("maxmemory", int(r.info("memory")["used_memory"]) // 2)
    return written


# (b) Redis full (maxmemory, noeviction) while workers run: they stay up, /healthz and refused writes answer 503.
def test_a_full_redis_is_a_503_and_workers_carry_on_once_memory_is_back(
    stack: tuple[EmbeddedRedis, Settings, Workers], tmp_path: Path
) -> None:
    _, own, workers = stack
    procs = workers.start(2)
    web = WebServer(own, tmp_path / "web").start()
    r = redis.Redis.from_url(own.redis_url)
    try:
        client = Client(connect(own.redis_url), own)
        waiting = [client.trigger("human-in-loop") for _ in range(20)]
        wait_until(lambda: statuses(client, waiting).get("waiting", 0) == 20, timeout=30)
        # Runs in the middle of a 2 s step when Redis fills: their next write is refused.
        slow = [client.trigger("slow", {"seconds": 2}) for _ in range(2)]
        wait_until(lambda: all(r.llen(f"{own.key_prefix}:test:slow-pid:{s}") for s in slow), timeout=30)
        filler = fill(r)
        full_since = time.monotonic()
        code, body = http("GET", web.url + "/healthz")
        assert code == 503 and body["ok"] is False and body["redis"].startswith("full: OOM"), body
        # Decisions and a trigger while full. A Lua script is refused only when its first write would
        # grow memory (Redis checks scripts once, at that write): each answer is a 200 (nothing of it
        # was refused) or a 503 naming the cause, never a 500.
        answers = {run_id: approve(web, run_id) for run_id in waiting[:10]}
        answers["trigger"] = http("POST", web.url + "/api/trigger", {"workflowType": "basic"})
        refused = [key for key, (code, _) in answers.items() if code != 200]
        for key in refused:
            code, body = answers[key]
            assert code == 503 and body["error"].startswith("Redis is full (OOM command not allowed"), body
        page_code, page_text = page_while_full(own)
        assert page_code == 303 or (page_code == 503 and "Redis is full (OOM" in page_text), page_text
        assert refused or page_code == 503, "nothing was refused: Redis was not full"
        time.sleep(max(0.0, 5 - (time.monotonic() - full_since)))  # 5 s full: workers dequeue, beat, sweep
        full_for = time.monotonic() - full_since
        assert alive(procs) == [True, True], workers.logs()[-3000:]
        during = statuses(client, waiting + slow)

        r.config_set("maxmemory", 0)
        r.delete(*[f"filler:{i}" for i in range(filler)])
        back = time.monotonic()
        for run_id in [r for r in refused if r != "trigger"] + waiting[10:]:
            code, body = approve(web, run_id)
            assert code == 200, body
        wait_until(lambda: statuses(client, waiting + slow).get("completed", 0) == 22, timeout=60, interval=0.2)
        took = time.monotonic() - back
        print(f"full for {full_for:.1f} s ({filler} filler keys of 16 KB); refused while full: {refused} of")
        print(f"11 API writes, the start form {page_code}; runs then {during}; 22 completed {took:.1f} s after")
        assert alive(procs) == [True, True]
        code, body = http("GET", web.url + "/healthz")
        assert code == 200 and body["workers"] == 2, body
    finally:
        r.config_set("maxmemory", 0)
        web.stop()


def page_while_full(own: Settings) -> tuple[int, str]:
    """Start a run from the index page's form (a page, not the API) while Redis is full."""
    config = {"TESTING": True, "SECRET_KEY": secrets.token_hex(32), "SETTINGS": own, "OPEN_MODE": True}
    app = create_app({**config, "ENV_NAME": "development"})
    http_client = app.test_client()
    page = http_client.get("/").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no start form on the index page"
    resp = http_client.post("/runs", data={"workflow": "basic", "csrf_token": match.group(1)})
    return resp.status_code, resp.get_data(as_text=True)


HEALTHY = {"ok": True, "redis": "ok", "sockets": 0}


# (c) A SIGKILLed worker is reported stale (and not counted) within the heartbeat window.
def test_healthz_counts_fresh_workers_and_names_a_killed_one_stale(
    stack: tuple[EmbeddedRedis, Settings, Workers], tmp_path: Path
) -> None:
    _, own, workers = stack
    first, second = workers.start(2)
    web = WebServer(own, tmp_path / "web").start()
    try:
        wait_until(lambda: http("GET", web.url + "/healthz")[1] == {**HEALTHY, "workers": 2, "stale": []}, timeout=30)
        workers.kill(first)
        killed = time.monotonic()

        def reported() -> dict[str, Any] | None:
            code, body = http("GET", web.url + "/healthz")
            return body if code == 200 and body["stale"] == [Workers.name_of(first)] else None

        body = wait_until(reported, timeout=own.lease_seconds + 10, interval=0.1)
        took = time.monotonic() - killed
        print(f"killed worker reported stale {took:.2f} s after SIGKILL (lease {own.lease_seconds} s)")
        assert body == {**HEALTHY, "workers": 1, "stale": [Workers.name_of(first)]}
        assert second.poll() is None
    finally:
        web.stop()


def children_of(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry))
    return found


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its new parent counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# Item 16: a SIGKILLed `rq worker --with-scheduler` takes its scheduler child with it; the next takes over.
def test_scheduler_child_exits_with_its_worker_and_releases_the_lock(
    stack: tuple[EmbeddedRedis, Settings, Workers],
) -> None:
    _, own, workers = stack
    r = redis.Redis.from_url(own.redis_url, decode_responses=True)
    lock = f"rq:scheduler-lock:{own.queue_name}"
    (worker,) = workers.start(1, with_scheduler=True)
    (scheduler,) = wait_until(lambda: children_of(worker.pid), timeout=30)  # type: ignore[misc]
    wait_until(lambda: r.get(lock), timeout=30)
    holder = r.get(lock)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    killed = time.monotonic()
    wait_until(lambda: gone(scheduler), timeout=10, interval=0.05)
    exited = time.monotonic() - killed
    wait_until(lambda: r.get(lock) != holder, timeout=10)
    print(f"scheduler child {scheduler} exited {exited:.2f} s after its worker's SIGKILL; lock released")
    (successor,) = workers.start(1, with_scheduler=True)
    (child,) = wait_until(lambda: children_of(successor.pid), timeout=30)  # type: ignore[misc]
    wait_until(lambda: r.get(lock) not in (None, holder), timeout=30)
    # RQ's scheduler takes the lock, then writes its own hash: the new holder is the successor's child.
    wait_until(lambda: r.hget(f"rq:scheduler:{r.get(lock)}", "pid") == str(child), timeout=10)
