"""Child runs (context.invoke): the child's end reaches its parent, once, through crashes, to a depth limit."""

from __future__ import annotations

from hitl_web.engine import Client, RunStatus
from hitl_web.engine.invocations import child_event, child_id
from hitl_web.engine.outcomes import Refusal
from hitl_web.engine.run_pages import RunFilter
from hitl_web.metrics import instruments
from hitl_web.settings import Settings
from hitl_web.stack import Workers

from .conftest import wait_for_status, wait_until
from .flows import conn


def executions(settings: Settings, run_id: str, what: str) -> int:
    return int(conn().get(f"{settings.key_prefix}:test:count:{run_id}:{what}") or 0)


def child_of(parent: str) -> str:
    """The child run id the invoker's invoke step (its second step) starts."""
    return child_id(parent, 1)


def test_a_child_result_reaches_its_parent_after_a_worker_is_killed_in_the_child(
    client: Client, settings: Settings, workers: Workers
) -> None:
    (first,) = workers.start(1)
    parent = client.trigger("invoker", {"workflow": "child-slow", "payload": {"n": 21, "hold": 3}})
    child = child_of(parent)
    wait_until(lambda: executions(settings, child, "work") == 1)  # the child is inside its step
    workers.kill(first)
    workers.start(1)  # the child's lease runs out (2 s); a sweep hands it to this worker
    done = wait_for_status(client, parent, RunStatus.COMPLETED, RunStatus.FAILED, timeout=40)
    assert done.status is RunStatus.COMPLETED, done.error
    assert done.result == {"body": {"doubled": 42}, "is_failed": False, "is_canceled": False}
    assert client.get_run(child).status is RunStatus.COMPLETED
    assert executions(settings, child, "work") == 2  # the step cut short by the kill ran again (at least once)
    assert executions(settings, parent, "before") == 1 and executions(settings, parent, "after") == 1
    children = client.browse_runs(RunFilter(workflow="child-slow")).runs
    assert [run.run_id for run in children] == [child], "one child, however often the parent replayed"
    # The parent's wait is not an ask: nobody's inbox, and no human decides it.
    wait = done.steps[1]
    assert wait.child == child and wait.event_id == child_event(child)


def test_a_failed_a_cancelled_and_a_self_cancelled_child_tell_their_parents(
    client: Client, settings: Settings, workers: Workers
) -> None:
    workers.start(1)
    failing = client.trigger("invoker", {"workflow": "child-failing"})
    waiting = client.trigger("invoker", {"workflow": "child-waiting"})
    selfish = client.trigger("invoker", {"workflow": "self-cancelling"})
    failed = wait_for_status(client, failing, RunStatus.COMPLETED, RunStatus.FAILED)
    assert failed.result["is_failed"] is True and failed.result["is_canceled"] is False
    assert "the child gave up" in failed.result["body"]
    assert client.get_run(child_of(failing)).status is RunStatus.FAILED

    child = child_of(waiting)
    wait_for_status(client, child, RunStatus.WAITING)
    finished = instruments().runs_finished.labels("child-waiting", "cancelled")
    before = finished._value.get()  # this process's own count (the library keeps one per process)
    assert client.cancel_run(child, by="ops") is RunStatus.CANCELLED
    assert finished._value.get() == before + 1, "a cancel counts under its run's workflow"
    cancelled = wait_for_status(client, waiting, RunStatus.COMPLETED, RunStatus.FAILED)
    assert cancelled.result == {"body": None, "is_failed": False, "is_canceled": True}
    audit = [e for e in client.audit.entries(run_id=child)]
    assert [(e["kind"], e["by"], e["outcome"]) for e in audit] == [("cancelled", "ops", "waiting")]

    own = wait_for_status(client, selfish, RunStatus.COMPLETED, RunStatus.FAILED)
    assert own.result == {"body": None, "is_failed": False, "is_canceled": True}
    assert client.get_run(child_of(selfish)).status is RunStatus.CANCELLED


def test_a_person_cannot_decide_a_wait_for_a_child_run(client: Client, workers: Workers) -> None:
    workers.start(1)
    parent = client.trigger("invoker", {"workflow": "child-waiting"})
    child = child_of(parent)
    wait_for_status(client, parent, RunStatus.WAITING)
    done = client.decide(child_event(child), {"approve": True}, parent, receipt={"by": "mallory", "via": "api"})
    assert [reason for _, reason in done.refused] == [Refusal.CHILD_RUN]
    assert client.get_run(parent).status is RunStatus.WAITING
    assert parent not in {ask.run_id for ask in client.inbox.asks("mallory")}  # (the child's own ask is there)


def test_child_runs_nest_to_the_depth_limit_and_no_deeper(client: Client, workers: Workers) -> None:
    workers.start(1, extra_env={"HITL_MAX_INVOKE_DEPTH": "2"})
    ok = client.trigger("nested", {"n": 2})  # depth 0 -> 1 -> 2: allowed
    assert wait_for_status(client, ok, RunStatus.COMPLETED, RunStatus.FAILED).result == {
        "below": {"below": "bottom", "is_failed": False},
        "is_failed": False,
    }
    deep = client.trigger("nested", {"n": 3})  # the run at depth 2 may not invoke a third level
    top = wait_for_status(client, deep, RunStatus.COMPLETED, RunStatus.FAILED, timeout=30)
    middle = top.result["below"]
    assert top.status is RunStatus.COMPLETED and middle["is_failed"] is True
    assert "HITL_MAX_INVOKE_DEPTH" in middle["below"]
