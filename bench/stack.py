"""What every benchmark shares: a Redis (own, or REDIS_URL), real processes, percentiles, JSON out."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from hitl_web.connections import connect
from hitl_web.devtools.embedded_redis import EmbeddedRedis
from hitl_web.devtools.sentinels import MASTER, SentinelCluster
from hitl_web.engine import Client
from hitl_web.settings import Settings
from hitl_web.stack import WebServer, Workers

MODULES = ("hitl_web.examples", "bench.flows")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies in milliseconds, rounded to 0.01 ms."""
    if not samples_ms:
        return {}
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def machine() -> str:
    """A short description of where the figure was measured."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


@dataclass
class Stack:
    """A benchmark's processes on their own key prefix."""

    settings: Settings
    workdir: Path
    redis: redis.Redis
    client: Client
    workers: Workers
    webs: list[WebServer] = field(default_factory=list)

    def web(self, extra_env: dict[str, str] | None = None) -> WebServer:
        """Start one more gunicorn web process."""
        server = WebServer(self.settings, self.workdir / f"web{len(self.webs)}", extra_env).start()
        self.webs.append(server)
        return server


@contextmanager
def stack(
    workers: int = 1, worker_env: dict[str, str] | None = None, replicated: int | None = None, **settings: Any
) -> Iterator[Stack]:
    """Redis (REDIS_URL, or an embedded one), ``workers`` RQ workers (``worker_env`` added to their environment).

    ``replicated``: a primary with a replica behind three Sentinels instead, with that
    ``HITL_MIN_REPLICAS`` (0: replicated, no acknowledgement awaited).
    """
    workdir = Path(tempfile.mkdtemp(prefix="hitl-bench-"))
    server: EmbeddedRedis | SentinelCluster | None = None
    url = os.environ.get("REDIS_URL")
    if replicated is not None:
        server = SentinelCluster(workdir / "redis").start()
        url = server.url
        settings.update(redis_sentinels=tuple(server.sentinels_setting.split(",")), redis_sentinel_master=MASTER,
                        redis_sentinel_password=server.sentinel_password, min_replicas=replicated)  # fmt: skip
    elif not url:
        server = EmbeddedRedis(workdir / "redis").start()
        url = server.url
    # Its own Redis: the default key prefix and queue, as a deployment has them. A shared one
    # (REDIS_URL): a prefix of the benchmark's own, so nothing there is touched.
    prefix = Settings().key_prefix if server is not None else f"bench{uuid.uuid4().hex[:8]}"
    s = Settings(redis_url=url, key_prefix=prefix, queue_name=prefix, workflow_modules=MODULES, **settings)
    conn = connect(s)
    st = Stack(s, workdir, conn, Client(conn, s), Workers(s, workdir))
    try:
        st.workers.start(workers, extra_env=worker_env)
        wait_for_workers(st, workers)
        yield st
    finally:
        for web in st.webs:
            web.stop()
        st.workers.stop_all()
        if server is not None:
            server.stop()


@contextmanager
def plain_rq_workers(st: Stack, n: int) -> Iterator[str]:
    """``n`` stock ``rq worker`` processes (the naive baseline's) on a queue of their own; yields its name."""
    import subprocess

    from hitl_web.stack import ROOT, process_env

    queue = f"{st.settings.queue_name}-base"
    command = [sys.executable, "-m", "rq.cli", "worker", "--url", st.settings.redis_url, queue]
    procs = [
        subprocess.Popen(
            command, env=process_env(st.settings), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(n)
    ]
    try:
        yield queue
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()


def wait_for_workers(st: Stack, n: int, timeout: float = 30) -> None:
    """Block until ``n`` workers listen on the stack's queue."""
    from rq import Worker

    deadline = time.monotonic() + timeout
    while Worker.count(queue=st.client.engine.queue) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers did not start:\n{st.workers.logs()[-3000:]}")
        time.sleep(0.05)


def report(figure: str, **fields: Any) -> dict[str, Any]:
    """Print the figure's one JSON object (and return it)."""
    out = {"figure": figure, "date": time.strftime("%Y-%m-%d"), "machine": machine(), **fields}
    print(json.dumps(out), flush=True)
    return out


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.001) -> None:
    """Poll until ``predicate()``; a benchmark that cannot finish fails loudly."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"benchmark gave up waiting for {what}")
        time.sleep(interval)


def waiting_runs(st: Stack, n: int) -> list[str]:
    """Trigger ``n`` bench-wait runs and return their ids once all of them wait."""
    from hitl_web.engine import RunStatus

    run_ids = [st.client.trigger("bench-wait") for _ in range(n)]
    wait_for(lambda: all(st.client.get_run(r).status is RunStatus.WAITING for r in run_ids), 60, "waits", 0.05)
    return run_ids
