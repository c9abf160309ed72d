"""Workflows the benchmarks run: a wait whose next step records when its first line runs."""

from __future__ import annotations

import os
import time

import redis

from hitl_web.engine import WorkflowContext, workflow

_conn: redis.Redis | None = None


def conn() -> redis.Redis:
    """The benchmark's Redis (from the worker's environment)."""
    global _conn
    if _conn is None:
        _conn = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _conn


def resumed_key() -> str:
    """List of "<run id> <time>" entries: when each run's step after the wait began.

    A list, so the benchmark waits for it with BLPOP: polling would take a core from the processes
    it measures.
    """
    return f"{os.environ.get('HITL_KEY_PREFIX', 'hitl')}:bench:resumed"


@workflow("bench-wait", retries=0)
def bench_wait(context: WorkflowContext) -> None:
    """Wait for ``bench-<run id>``, then note the time the next step starts."""
    context.wait_for_event("wait", f"bench-{context.workflow_run_id}", timeout=context.request_payload or "1h")
    run_id = context.workflow_run_id
    context.run("resume", lambda: conn().rpush(resumed_key(), f"{run_id} {time.time()!r}"))


def baseline_job(prefix: str, run_id: str) -> None:
    """The naive baseline: an RQ job that blocks its worker on a list until the decision arrives."""
    r = conn()
    r.rpush(f"{prefix}:baseline:ready", run_id)  # the next command blocks this worker until the decision
    r.blpop([f"{prefix}:baseline:decision:{run_id}"], timeout=3600)
    r.rpush(f"{prefix}:baseline:resumed", f"{run_id} {time.time()!r}")
