"""Workflows used by the tests: each counts its side effects in Redis, so replays are visible."""

from __future__ import annotations

import os
import time
from enum import Enum
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field, model_validator

from hitl_web.engine import Ask, NonRetryableError, Task, WaitResult, WorkflowContext, WorkflowMiddleware, workflow

_conn: redis.Redis | None = None


def conn() -> redis.Redis:
    """The test Redis (the worker's environment names it)."""
    global _conn
    if _conn is None:
        _conn = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    return _conn


def prefix() -> str:
    return os.environ.get("HITL_KEY_PREFIX", "hitl")


def count(run_id: str, what: str) -> int:
    """Count one real execution of ``what``."""
    return int(conn().incr(f"{prefix()}:test:count:{run_id}:{what}"))


def counted(context: WorkflowContext, name: str, value: Any = None) -> Any:
    return context.run(name, lambda: (count(context.workflow_run_id, name), value)[1])


@workflow("counted")
def counted_flow(context: WorkflowContext) -> dict[str, Any]:
    """Two steps, a wait, two steps: every real execution is counted."""
    counted(context, "one", 1)
    counted(context, "two", {"two": 2})
    decision = context.wait_for_event("approve", f"ev-{context.workflow_run_id}", timeout="1h")
    counted(context, "three", decision.event_data)
    counted(context, "four", [4])
    return {"decision": decision.event_data, "timeout": decision.timeout}


@workflow("waiter")
def waiter_flow(context: WorkflowContext) -> dict[str, Any]:
    """A wait whose event id and timeout come from the payload, then a counted step."""
    payload = context.request_payload or {}
    if payload.get("hold"):
        context.run("hold", lambda: time.sleep(float(payload["hold"])))
    event_id = payload.get("event_id") or f"ev-{context.workflow_run_id}"
    result = context.wait_for_event("wait", event_id, timeout=payload.get("timeout", "1h"))
    counted(context, "after", None)
    return {"event_data": result.event_data, "timeout": result.timeout, "finished_at": time.time()}


@workflow("slow")
def slow_flow(context: WorkflowContext) -> str:
    """A quick step, then a slow one that says which worker process runs it."""
    counted(context, "quick", 1)

    def slow() -> int:
        count(context.workflow_run_id, "slow-started")
        conn().rpush(f"{prefix()}:test:slow-pid:{context.workflow_run_id}", os.getpid())
        time.sleep(float(context.request_payload.get("seconds", 2)))
        return os.getpid()

    context.run("slow", slow)
    counted(context, "last", 3)
    return "done"


@workflow("keyed", retries=2, retry_delay=0.05)
def keyed_flow(context: WorkflowContext) -> dict[str, Any]:
    """A step that records its idempotency key on every attempt and fails the first one."""

    def charge() -> str:
        keys = f"{prefix()}:test:keys:{context.workflow_run_id}"
        if conn().rpush(keys, context.step_key) == 1:
            raise RuntimeError("the payment provider timed out")
        return context.step_key

    try:
        outside = context.step_key
    except RuntimeError:
        outside = "undefined"
    return {"key": context.run("charge", charge), "outside": outside}


@workflow("keyed-slow")
def keyed_slow_flow(context: WorkflowContext) -> str:
    """A long step that records its key and its worker's pid before it sleeps (a worker may die in it)."""

    def ship() -> str:
        conn().rpush(f"{prefix()}:test:keys:{context.workflow_run_id}", f"{context.step_key} {os.getpid()}")
        time.sleep(float(context.request_payload.get("seconds", 2)))
        return context.step_key

    return str(context.run("ship", ship))


@workflow("renamed")
def renamed_flow(context: WorkflowContext) -> None:
    """The first step's name comes from Redis, so a test can change the code between executions."""
    name = conn().get(f"{prefix()}:test:step-name:{context.workflow_run_id}") or "original-step"
    context.run(name, lambda: 1)
    context.wait_for_event("wait", f"ev-{context.workflow_run_id}", timeout="1h")


def record_failure(*, context: WorkflowContext, error: BaseException) -> None:
    conn().rpush(f"{prefix()}:test:failure:{context.workflow_run_id}", f"{type(error).__name__}|{error}")


def record_error(*, context: WorkflowContext, error: BaseException) -> None:
    conn().rpush(f"{prefix()}:test:on_error:{context.workflow_run_id}", str(error))


@workflow(
    "flaky",
    retries=2,
    retry_delay=0.05,
    failure_function=record_failure,
    middlewares=[WorkflowMiddleware("errors", {"on_error": record_error})],
)
def flaky_flow(context: WorkflowContext) -> None:
    """A step that fails every time, or fails only its first ``succeed_after`` attempts."""
    succeed_after = (context.request_payload or {}).get("succeed_after")

    def step() -> str:
        n = count(context.workflow_run_id, "attempt")
        if succeed_after is None or n <= succeed_after:
            raise RuntimeError(f"boom {n}")
        return "ok"

    context.run("fragile", step)


@workflow("fatal", failure_function=record_failure)
def fatal_flow(context: WorkflowContext) -> None:
    """A step that raises NonRetryableError: no retries."""

    def step() -> None:
        count(context.workflow_run_id, "attempt")
        raise NonRetryableError("do not retry")

    context.run("fatal", step)


def _hook(name: str) -> Any:
    def callback(*, context: WorkflowContext, **kwargs: Any) -> None:
        detail = kwargs.get("step_name", "")
        if name == "after_execution":
            detail = f"{detail}={kwargs['result']!r}"
        conn().rpush(f"{prefix()}:test:hooks:{context.workflow_run_id}", f"{name}:{detail}")

    return callback


recorder = WorkflowMiddleware(
    "recorder",
    {h: _hook(h) for h in ("run_started", "before_execution", "after_execution", "run_completed", "on_error")},
)


@workflow("hooked", middlewares=[recorder])
def hooked_flow(context: WorkflowContext) -> str:
    """A step, a wait and a step, with every middleware callback recorded."""
    context.run("first", lambda: 1)
    context.wait_for_event("wait", f"ev-{context.workflow_run_id}", timeout="1h")
    context.run("second", lambda: 2)
    return "end"


@workflow("sleeper")
def sleeper_flow(context: WorkflowContext) -> float:
    """Sleeps for the payload's seconds, then records when it woke."""
    started = context.run("start", time.time)
    context.sleep("nap", (context.request_payload or {}).get("seconds", 1))
    woke = context.run("woke", time.time)
    return float(woke - started)


@workflow("bad-result")
def bad_result_flow(context: WorkflowContext) -> None:
    """A step returning something that is not JSON."""
    context.run("not-json", lambda: {1, 2})


@workflow("restricted", starters=["alice", "ci-bot"])
def restricted_flow(context: WorkflowContext) -> str:
    """A workflow only alice and the ci-bot token may start."""
    return context.run("only", lambda: "started")


@workflow("twice")
def twice_flow(context: WorkflowContext) -> list[Any]:
    """Two waits on one event id, one after the other (a form for the first must not decide the second)."""
    event = f"again-{context.workflow_run_id}"
    first = context.wait_for_event("first", event, timeout="1h", message="Refund $10?")
    second = context.wait_for_event("second", event, timeout="1h", message="Refund $10,000?")
    return [first.event_data, second.event_data]


@workflow("guarded", separation_of_duties=True)
def guarded_flow(context: WorkflowContext) -> dict[str, Any]:
    """An approval only alice or bob may decide, and never the person who started the run."""
    decision = context.wait_for_event(
        "sign-off", f"sign-off-{context.workflow_run_id}", timeout="1h", message="Sign off?", approvers=["alice", "bob"]
    )
    return {"decision": decision.event_data}


@workflow("finance-sign-off")
def finance_sign_off(context: WorkflowContext) -> dict[str, Any]:
    """An approval carol or any member of the finance group may decide (issue 15's groups)."""
    decision = context.wait_for_event(
        "sign-off", f"finance-{context.workflow_run_id}", timeout="1h", approvers=["carol", "group:finance"]
    )
    return {"decision": decision.event_data}


@workflow("quorum-sign-off", separation_of_duties=True)
def quorum_sign_off(context: WorkflowContext) -> dict[str, Any]:
    """A quorum ask (issue 15): by default 2 of alice, bob and carol (payload: quorum, approvers)."""
    payload = context.request_payload or {}
    decision = context.wait_for_event(
        "sign-off",
        f"quorum-{context.workflow_run_id}",
        timeout=payload.get("timeout", "1h"),
        approvers=payload.get("approvers", ["alice", "bob", "carol"]),
        quorum=payload.get("quorum", 2),
    )
    votes = decision.votes or []
    outcome = decision.outcome.value if decision.outcome else None
    return {"outcome": outcome, "voters": [v["by"] for v in votes], "approve": [v["approve"] for v in votes]}


@workflow("chain", retries=5, retry_delay=0.05)
def chain_flow(context: WorkflowContext) -> int:
    """Three short counted steps: a worker may die in any of them."""
    for name in ("a", "b", "c"):
        context.run(name, lambda name=name: (count(context.workflow_run_id, name), time.sleep(0.05))[0])
    return 3


class Priority(Enum):
    LOW = 1
    HIGH = 2


class RefundForm(BaseModel):
    """A refund request: one field of each kind the start form renders."""

    order: str = Field(title="Order number", max_length=40, description='On the invoice, e.g. <b>"A-1"</b> & co')
    amount: float = Field(gt=0, le=10_000)
    reason: Literal["damaged", "late", "other"] = "other"
    priority: Priority = Priority.LOW
    express: bool = False
    notify_customer: bool = True
    items: int = Field(default=1, ge=1, lt=100)
    note: str | None = Field(default=None, max_length=500)
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def late_is_never_express(self) -> RefundForm:
        if self.reason == "late" and self.express:
            raise ValueError("a late delivery is never refunded express")
        return self


@workflow("refund", payload=RefundForm)
def refund_flow(context: WorkflowContext) -> dict[str, Any]:
    """One step that returns the payload as the workflow sees it (typed by its model)."""
    request: RefundForm = context.request_payload
    return context.run("typed", lambda: {"amount": request.amount, "priority": request.priority.name})


@workflow("parallel-sign-off", separation_of_duties=True)
def parallel_sign_off(context: WorkflowContext) -> dict[str, Any]:
    """Two asks at once, legal and finance (issue 15), and a step beside them; payload: resume, timeouts."""
    payload = context.request_payload or {}
    run_id = context.workflow_run_id
    prepared, legal, finance = context.parallel(
        Task("prepare", lambda: {"prepared": True}),
        Ask("legal", f"legal-{run_id}", payload.get("legal_timeout", "1h"), approvers=["group:legal"]),
        Ask("finance", f"finance-{run_id}", payload.get("finance_timeout", "1h"), approvers=["alice", "bob"],
            quorum=payload.get("quorum")),
        resume=payload.get("resume", "all"),
    )  # fmt: skip
    context.run("after", lambda: "after")
    return {"prepared": prepared, "legal": _shown(legal), "finance": _shown(finance)}


def _shown(result: WaitResult) -> dict[str, Any]:
    """An ask's result as a run's result can hold it."""
    return {"event_data": result.event_data, "timeout": result.timeout, "withdrawn": result.withdrawn}


@workflow("slow-beside-an-ask")
def slow_beside_an_ask(context: WorkflowContext) -> dict[str, Any]:
    """The guide's shape: a wait in parallel with a step (here one that takes ``seconds``, default 2)."""
    payload = context.request_payload or {}
    run_id = context.workflow_run_id

    def process() -> dict[str, Any]:
        time.sleep(payload.get("seconds", 2))
        return {"processed": True, "at": time.time()}

    processed, approval = context.parallel(
        Task("initial-processing", process),
        Ask("wait-for-approval", f"approval-{run_id}", payload.get("timeout", "5m")),
    )
    decided_at = (approval.event_data or {}).get("at") if isinstance(approval.event_data, dict) else None
    return {"processed": processed, "approval": approval.event_data, "timeout": approval.timeout,
            "decided_before_processing_ended": bool(decided_at and decided_at < processed["at"])}  # fmt: skip


@workflow("failing-beside-an-ask")
def failing_beside_an_ask(context: WorkflowContext) -> None:
    """A step that fails for good while the ask beside it is open."""

    def check() -> None:
        raise NonRetryableError("the books do not balance")

    context.parallel(Task("check", check), Ask("approve", f"approval-{context.workflow_run_id}", approvers=["alice"]))


@workflow("parallel-one-event-id")
def parallel_one_event_id(context: WorkflowContext) -> None:
    """Two asks on one event id: refused (a decision could not tell them apart)."""
    event_id = f"approval-{context.workflow_run_id}"
    context.parallel(Ask("a", event_id), Ask("b", event_id))


@workflow("notified-approval")
def notified_approval(context: WorkflowContext) -> dict[str, Any]:
    """An ask its notifiers announce (issue 16); payload: approvers, timeout, notify."""
    payload = context.request_payload or {}
    decision = context.wait_for_event(
        "approve-refund",
        f"refund-{context.workflow_run_id}",
        payload.get("timeout", "1h"),
        message=payload.get("message", "Refund <b>42</b> EUR?"),
        approvers=payload.get("approvers", ["alice"]),
        notify=payload.get("notify"),
    )
    return {"decision": decision.event_data, "timeout": decision.timeout}


@workflow("defaulting-ask")
def defaulting_ask(context: WorkflowContext) -> dict[str, Any]:
    """An ask with a default outcome and a due date (issue 16); payload: timeout, due, on_timeout, typed."""
    from hitl_web.examples.refund import RefundDecision

    payload = context.request_payload or {}
    typed = {"form": RefundDecision, "initial": {"amount": "12.50"}} if payload.get("typed") else {}
    decision = context.wait_for_event(
        "approve", f"default-{context.workflow_run_id}", payload.get("timeout", "1h"),
        approvers=payload.get("approvers", ["alice"]), due=payload.get("due"), on_timeout=payload.get("on_timeout"),
        **typed,
    )  # fmt: skip
    values = decision.values.model_dump(mode="json") if decision.values is not None else None
    return {"decision": decision.event_data, "timeout": decision.timeout, "defaulted": decision.defaulted,
            "option": decision.option, "values": values}  # fmt: skip


@workflow("laddered-ask")
def laddered_ask(context: WorkflowContext) -> dict[str, Any]:
    """An ask that reminds, escalates and then takes its default (issue 16); payload: the ladder's times."""
    payload = context.request_payload or {}
    decision = context.wait_for_event(
        "approve", f"ladder-{context.workflow_run_id}", payload.get("timeout", "6s"),
        approvers=["alice"], remind_every=payload.get("remind_every", "1s"), reminders=payload.get("reminders", 3),
        escalate_after=payload.get("escalate_after", "2500ms"), escalate_to=["group:managers"],
        on_timeout=payload.get("on_timeout", "reject"),
    )  # fmt: skip
    return {"decision": decision.event_data, "defaulted": decision.defaulted}
