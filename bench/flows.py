"""Workflows the benchmarks run: a wait whose next step records when its first line runs, and the guide's shape."""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from hitl_web.connections import connect
from hitl_web.engine import WorkflowContext, workflow
from hitl_web.settings import Settings

_conn: redis.Redis | None = None


def conn() -> redis.Redis:
    """The benchmark's Redis (from the worker's environment: REDIS_URL, or the Sentinels)."""
    global _conn
    if _conn is None:
        _conn = connect(Settings.from_env())
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


@workflow("bench-quorum", retries=0)
def bench_quorum(context: WorkflowContext) -> None:
    """``bench-wait`` with a quorum: two distinct approvers' votes on ``bench-<run id>`` resume it."""
    context.wait_for_event("wait", f"bench-{context.workflow_run_id}", timeout="1h", quorum=2)
    run_id = context.workflow_run_id
    context.run("resume", lambda: conn().rpush(resumed_key(), f"{run_id} {time.time()!r}"))


def baseline_job(prefix: str, run_id: str) -> None:
    """The naive baseline: an RQ job that blocks its worker on a list until the decision arrives."""
    r = conn()
    r.rpush(f"{prefix}:baseline:ready", run_id)  # the next command blocks this worker until the decision
    r.blpop([f"{prefix}:baseline:decision:{run_id}"], timeout=3600)
    r.rpush(f"{prefix}:baseline:resumed", f"{run_id} {time.time()!r}")


@workflow("bench-hitl", retries=0)
def bench_hitl(context: WorkflowContext) -> dict[str, Any]:
    """The guide's shape, sized like its example: ``steps`` steps (1), a wait for ``approval-<run id>``, one step.

    The payload is ``{"userId", "action", "steps"}``; bench.commandstats prices a step from runs of
    1 and of more steps before the wait.
    """
    payload = context.request_payload or {}
    user, action = payload.get("userId", "anonymous"), payload.get("action", "publish")
    for i in range(int(payload.get("steps", 1))):
        context.run(
            f"initial-processing-{i}",
            lambda: {"preprocessed": True, "userId": user, "action": action, "requiresApproval": True},
        )
    decision = context.wait_for_event(
        "wait-for-approval",
        f"approval-{context.workflow_run_id}",
        timeout="1h",
        message=f'Approve "{action}" for {user}?',
    )
    approved = isinstance(decision.event_data, dict) and decision.event_data.get("approved") is True
    status = "approved" if approved else "rejected"
    context.run(f"process-{status}", lambda: {"status": status, "processedAt": int(time.time() * 1000), "userId": user})
    return {"success": True, "approved": approved, "workflowRunId": context.workflow_run_id}


def _executed(run_id: str, step: str) -> dict[str, Any]:
    """Note one execution of ``step`` (``<run id> <step> <pid>`` in ``HITL_SOAK_LOG``): the soak counts re-runs."""
    path = os.environ.get("HITL_SOAK_LOG")
    if path:
        # One short O_APPEND write: lines of concurrent workers never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{run_id} {step} {os.getpid()} {time.time()!r}\n".encode())
        finally:
            os.close(fd)
    return {"step": step, "pid": os.getpid()}


@workflow("soak", retries=3)
def soak(context: WorkflowContext) -> dict[str, Any]:
    """The chaos soak's run (bench/soak.py, tests/test_failover.py): a step, a decision on ``soak-<run id>``, a step."""
    run_id = context.workflow_run_id
    context.run("prepare", lambda: _executed(run_id, "prepare"))
    decision = context.wait_for_event("approval", f"soak-{run_id}", timeout="1h")
    context.run("apply", lambda: _executed(run_id, "apply"))
    return {"decision": decision.event_data, "timeout": decision.timeout}
