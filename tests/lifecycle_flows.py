"""Workflows of the run-lifecycle tests: child runs (invoke), sleep_until, context.cancel, dead letters."""

from __future__ import annotations

import time
from typing import Any

from hitl_web.engine import NonRetryableError, WorkflowContext, workflow

from .flows import conn, count, counted, prefix


@workflow("invoker")
def invoker(context: WorkflowContext) -> dict[str, Any]:
    """A step, then a child run of the payload's ``workflow``, then a step: the child's end is its result."""
    payload = context.request_payload or {}
    counted(context, "before", 1)
    ended = context.invoke("child", payload["workflow"], payload.get("payload"), timeout=payload.get("timeout", "1h"))
    counted(context, "after", 2)
    return {"body": ended.body, "is_failed": ended.is_failed, "is_canceled": ended.is_canceled}


@workflow("child-slow")
def child_slow(context: WorkflowContext) -> dict[str, Any]:
    """A child whose one step holds ``hold`` seconds (a worker can be killed in it), then doubles ``n``."""
    payload = context.request_payload or {}

    def work() -> int:
        count(context.workflow_run_id, "work")
        time.sleep(float(payload.get("hold", 0)))
        return int(payload.get("n", 0)) * 2

    return {"doubled": context.run("work", work)}


@workflow("child-failing")
def child_failing(context: WorkflowContext) -> None:
    """A child that fails for good."""

    def boom() -> None:
        raise NonRetryableError("the child gave up")

    context.run("boom", boom)


@workflow("child-waiting")
def child_waiting(context: WorkflowContext) -> None:
    """A child that waits for an event nobody sends (cancelled from outside in the test)."""
    context.wait_for_event("never", f"never-{context.workflow_run_id}", timeout="1h")


@workflow("self-cancelling")
def self_cancelling(context: WorkflowContext) -> str:
    """A step, then the run cancels itself: the step after it never runs."""
    counted(context, "first", 1)
    context.cancel()
    counted(context, "never", 2)  # pragma: no cover - never reached
    return "unreachable"


@workflow("nested")
def nested(context: WorkflowContext) -> Any:
    """Invokes itself ``n`` levels deep: the deepest returns "bottom"."""
    n = int((context.request_payload or {}).get("n", 0))
    if n == 0:
        return "bottom"
    ended = context.invoke("deeper", "nested", {"n": n - 1})
    return {"below": ended.body, "is_failed": ended.is_failed}


@workflow("wake-at")
def wake_at(context: WorkflowContext) -> float:
    """Sleeps until the payload's ``at`` (ISO 8601 or Unix seconds), then says when it woke."""
    context.sleep_until("until", (context.request_payload or {})["at"])
    return float(context.run("woke", time.time))


@workflow("fixable", retries=0)
def fixable(context: WorkflowContext) -> dict[str, Any]:
    """A step, then a step that fails until its fix flag is set in Redis: a dead letter to resume."""
    counted(context, "prepare", 1)

    def needs_fix() -> str:
        count(context.workflow_run_id, "attempt")
        if not conn().get(f"{prefix()}:test:fixed"):
            raise RuntimeError("the downstream service is down")
        return "fixed"

    return {"outcome": context.run("call", needs_fix)}
