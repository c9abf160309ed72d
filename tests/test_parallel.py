"""Several asks in one run (context.parallel): each its own event id, approvers and deadline, a step beside them."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from hitl_web.approvals import Decider, decide
from hitl_web.approvals.decisions import CONFLICT, FORBIDDEN, OK
from hitl_web.engine import Client, RunStatus, StepStatus
from hitl_web.engine.outcomes import Refusal
from hitl_web.live import Realtime
from tests.conftest import Workers, wait_for_status, wait_until


def say(client: Client, name: str, ask: str, run_id: str, approved: bool = True) -> Any:
    """``name``'s decision on the run's ask ``ask`` (legal or finance), through the path every entry point takes."""
    [decision] = decide(client, Decider(name, True, "api"), f"{ask}-{run_id}", {"approved": approved}, run_id=run_id)
    return decision


def opened(client: Client, payload: dict[str, Any] | None = None) -> str:
    """A run of parallel-sign-off waiting on both its asks (legal: the group legal; finance: alice or bob)."""
    client.groups.add("legal", "lena", "leo")
    run_id = client.trigger("parallel-sign-off", payload)
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def events(rconn: redis.Redis, client: Client, run_id: str) -> list[str]:
    return [e.name for _, e in Realtime(rconn, client.settings.key_prefix).channel(run_id).history()]


def test_two_asks_open_at_once_and_the_run_resumes_only_after_both(
    workers: Workers, client: Client, rconn: redis.Redis
) -> None:
    workers.start(1)
    run_id = opened(client)
    run = client.get_run(run_id)
    assert [s.name for s in run.steps] == ["prepare", "legal", "finance"]
    assert run.steps[0].status is StepStatus.COMPLETED and run.steps[0].result == {"prepared": True}
    assert sorted(w.step_name for w in run.waits) == ["finance", "legal"]
    assert [w.run_id for w in client.get_waiters(f"legal-{run_id}")] == [run_id]
    assert client.inbox.count("lena") == 1 and client.inbox.count("alice") == 1

    first = say(client, "lena", "legal", run_id)
    assert first.accepted and first.status == OK, first.message
    time.sleep(0.3)  # a resume would take a worker a few milliseconds
    run = client.get_run(run_id)
    assert run.status is RunStatus.WAITING  # one ask of two answered: the run still waits
    assert run.steps[1].status is StepStatus.COMPLETED and run.steps[1].receipt["by"] == "lena"
    assert [w.step_name for w in run.waits] == ["finance"]
    assert client.get_waiters(f"legal-{run_id}") == [] and client.inbox.count("lena") == 0
    assert "workflow.askAnswered" in events(rconn, client, run_id)

    again = say(client, "leo", "legal", run_id)  # the legal ask is answered: too late for it
    assert not again.accepted and again.refusal is Refusal.DECIDED and "Already decided by lena" in again.message

    last = say(client, "bob", "finance", run_id)
    assert last.accepted, last.message
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result == {
        "prepared": {"prepared": True},
        "legal": {"event_data": {"approved": True}, "timeout": False, "withdrawn": False},
        "finance": {"event_data": {"approved": True}, "timeout": False, "withdrawn": False},
    }
    assert [s.receipt["by"] for s in done.steps[1:3]] == ["lena", "bob"]
    names = events(rconn, client, run_id)
    assert names.count("workflow.waitingForInput") == 2 and names.count("workflow.inputResolved") == 2
    assert client.inbox.count("alice") == 0


def test_a_rejection_ends_the_run_at_once_when_it_says_so_and_withdraws_the_other_ask(
    workers: Workers, client: Client
) -> None:
    workers.start(1)
    run_id = opened(client, {"resume": "first_rejection"})
    no = say(client, "alice", "finance", run_id, approved=False)
    assert no.accepted, no.message
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result["finance"] == {"event_data": {"approved": False}, "timeout": False, "withdrawn": False}
    assert done.result["legal"] == {"event_data": None, "timeout": False, "withdrawn": True}
    assert done.steps[1].status is StepStatus.COMPLETED and done.steps[1].receipt is None
    assert client.get_waiters(f"legal-{run_id}") == [] and client.inbox.count("lena") == 0

    late = say(client, "lena", "legal", run_id)  # the withdrawn ask takes no decision
    assert not late.accepted and late.refusal is Refusal.CLOSED and late.status == CONFLICT
    assert "withdrawn" in late.message
    assert client.get_run(run_id).steps[1].receipt is None


def test_a_rejection_waits_for_the_other_ask_when_the_run_wants_every_answer(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = opened(client)  # resume="all"
    assert say(client, "alice", "finance", run_id, approved=False).accepted
    time.sleep(0.3)
    assert client.get_run(run_id).status is RunStatus.WAITING
    assert say(client, "leo", "legal", run_id).accepted
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result["finance"]["event_data"] == {"approved": False}
    assert done.result["legal"]["event_data"] == {"approved": True}


@pytest.mark.parametrize("resume", ["all", "first_rejection"])
def test_each_ask_times_out_on_its_own_deadline(workers: Workers, client: Client, resume: str) -> None:
    workers.start(1)
    run_id = opened(client, {"legal_timeout": "1s", "resume": resume})
    if resume == "all":  # the legal ask timed out, the run waits on finance still
        wait_until(lambda: client.get_run(run_id).steps[1].status is StepStatus.COMPLETED, timeout=15)
        run = client.get_run(run_id)
        assert run.status is RunStatus.WAITING and [w.step_name for w in run.waits] == ["finance"]
        assert client.inbox.count("lena") == 0 and client.inbox.count("bob") == 1
        assert say(client, "bob", "finance", run_id).accepted
    done = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=15)
    assert done.result["legal"] == {"event_data": None, "timeout": True, "withdrawn": False}
    if resume == "first_rejection":  # a timeout does not approve: the run goes on without finance
        assert done.result["finance"]["withdrawn"] is True
    else:
        assert done.result["finance"]["event_data"] == {"approved": True}


def test_the_policy_holds_for_each_ask_alone(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = opened(client)
    outsider = say(client, "alice", "legal", run_id)  # alice may decide finance, not legal
    assert not outsider.accepted and outsider.refusal is Refusal.NOT_APPROVER and outsider.status == FORBIDDEN
    assert "members of legal" in outsider.message
    member = say(client, "lena", "finance", run_id)
    assert not member.accepted and member.refusal is Refusal.NOT_APPROVER
    assert client.get_run(run_id).status is RunStatus.WAITING and len(client.get_run(run_id).waits) == 2


def test_a_quorum_ask_beside_another_counts_its_votes(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = opened(client, {"quorum": 2})
    assert say(client, "lena", "legal", run_id).accepted
    counted = say(client, "alice", "finance", run_id)
    assert counted.accepted and counted.counted, counted.message
    assert client.get_run(run_id).status is RunStatus.WAITING
    assert say(client, "bob", "finance", run_id).accepted
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result["finance"]["event_data"] == {"approved": True}
    assert [v["by"] for v in done.votes[2]] == ["alice", "bob"]


def test_concurrent_answers_to_both_asks_resume_the_run_exactly_once(workers: Workers, client: Client) -> None:
    workers.start(2)
    deciders = (("lena", "legal"), ("leo", "legal"), ("alice", "finance"), ("bob", "finance"))
    for _ in range(10):
        run_id = opened(client)
        barrier, out = threading.Barrier(len(deciders)), []

        def decide_as(name: str, ask: str, run_id: str, barrier: threading.Barrier, out: list[Any]) -> None:
            barrier.wait()
            out.append(say(client, name, ask, run_id))

        threads = [threading.Thread(target=decide_as, args=(*d, run_id, barrier, out)) for d in deciders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(d.accepted for d in out) == [False, False, True, True]
        assert {d.refusal for d in out if not d.accepted} == {Refusal.DECIDED}
        done = wait_for_status(client, run_id, RunStatus.COMPLETED)
        assert done.result["legal"]["event_data"] == done.result["finance"]["event_data"] == {"approved": True}
        assert [s.name for s in done.steps] == ["prepare", "legal", "finance", "after"]
        assert [s.attempts for s in done.steps if s.type.value == "run"] == [1, 1]


def test_an_ask_answered_while_the_step_beside_it_runs(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("slow-beside-an-ask", {"seconds": 2})
    # The ask is open while the step runs: its waiter is there before the step ends.
    wait_until(lambda: client.get_waiters(f"approval-{run_id}"), timeout=10)
    run = client.get_run(run_id)
    assert run.status is RunStatus.RUNNING and [w.step_name for w in run.waits] == ["wait-for-approval"]
    assert run.steps[0].status is StepStatus.RUNNING
    [waiter] = client.notify(f"approval-{run_id}", {"approved": True}, run_id)
    assert waiter.run_id == run_id
    done = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=15)
    assert done.result["approval"] == {"approved": True} and done.result["processed"]["processed"] is True
    assert done.steps[1].finished_at < done.result["processed"]["at"]  # decided before the step ended


def test_a_decision_kept_before_the_asks_open_answers_its_ask_when_they_do(workers: Workers, client: Client) -> None:
    client.groups.add("legal", "lena")
    run_id = client.trigger("parallel-sign-off")
    kept = say(client, "lena", "legal", run_id)  # no worker yet: the run has not reached its asks
    assert kept.accepted and kept.status == 202, kept.message
    workers.start(1)
    wait_for_status(client, run_id, RunStatus.WAITING)
    run = client.get_run(run_id)
    assert run.steps[1].status is StepStatus.COMPLETED and [w.step_name for w in run.waits] == ["finance"]
    assert client.inbox.count("lena") == 0
    assert say(client, "alice", "finance", run_id).accepted
    assert wait_for_status(client, run_id, RunStatus.COMPLETED).result["legal"]["event_data"] == {"approved": True}


def test_cancel_closes_every_open_ask(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = opened(client)
    assert say(client, "lena", "legal", run_id).accepted
    assert client.cancel_run(run_id) is RunStatus.CANCELLED
    assert client.get_waiters(f"finance-{run_id}") == [] and client.inbox.count("alice") == 0
    late = say(client, "bob", "finance", run_id)
    assert not late.accepted and late.refusal is Refusal.CLOSED


def test_one_ask_of_several_is_reassigned_alone(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = opened(client)
    assert client.reassign(run_id, 2, ["carol"], "alice and bob are away", by="ops", operator=True) is None
    run = client.get_run(run_id)
    assert run.steps[2].approvers == ["carol"] and run.steps[1].approvers == ["group:legal"]
    assert client.inbox.count("alice") == 0 and client.inbox.count("carol") == 1
    assert say(client, "bob", "finance", run_id).refusal is Refusal.NOT_APPROVER
    assert say(client, "carol", "finance", run_id).accepted and say(client, "leo", "legal", run_id).accepted
    wait_for_status(client, run_id, RunStatus.COMPLETED)


def test_a_step_failing_beside_open_asks_fails_the_run_and_closes_them(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("failing-beside-an-ask")
    done = wait_for_status(client, run_id, RunStatus.FAILED)
    assert "the books do not balance" in (done.error or "")
    assert client.get_waiters(f"approval-{run_id}") == [] and client.inbox.count("alice") == 0
    assert client.notify(f"approval-{run_id}", {"approved": True}) == []


def test_two_asks_on_one_event_id_fail_the_run_with_the_reason(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("parallel-one-event-id")
    done = wait_for_status(client, run_id, RunStatus.FAILED)
    assert "each Ask of context.parallel needs its own event id" in (done.error or "")
    assert done.steps == []  # refused before any branch became a step
