"""Quorum asks: each approver's vote counts once, the quorum approves, the first rejection rejects."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from flask import Flask

from hitl_web import create_app
from hitl_web.approvals import Decider, decide
from hitl_web.approvals.decisions import CONFLICT, FORBIDDEN, OK
from hitl_web.engine import Client, QuorumOutcome, RunStatus
from hitl_web.engine.outcomes import Refusal, Resolution
from hitl_web.live import Realtime
from hitl_web.settings import Settings
from tests.conftest import TEST_SECRET, Workers, wait_for_status, wait_until

TOKENS = {name: f"{name}-token-0123456789abcdef" for name in ("alice", "bob", "carol", "dave")}


def vote(client: Client, name: str, run_id: str, approved: bool = True) -> Any:
    """One approver's decision on the run's quorum ask, through the path every entry point takes."""
    decider = Decider(name, True, "api")
    [decision] = decide(client, decider, f"quorum-{run_id}", {"approved": approved}, run_id=run_id)
    return decision


def waiting(client: Client, payload: dict[str, Any] | None = None, by: str | None = None) -> str:
    run_id = client.trigger("quorum-sign-off", payload, triggered_by=by)
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def test_two_of_three_each_vote_once_the_second_resolves_a_third_is_too_late(
    workers: Workers, client: Client, rconn: redis.Redis
) -> None:
    workers.start(1)
    run_id = waiting(client)

    first = vote(client, "alice", run_id)
    assert first.accepted and first.status == OK and first.counted, first.message
    assert first.message == "Vote recorded: 1 of 2 approvals."
    run = client.get_run(run_id)
    assert run.status is RunStatus.WAITING  # one vote of two: still open
    assert [v["by"] for v in run.votes[0]] == ["alice"] and run.votes[0][0]["approve"] is True
    assert run.votes[0][0]["via"] == "api"
    [cast] = [e for _, e in Realtime(rconn, client.settings.key_prefix).channel(run_id).history()
              if e.name == "workflow.voteCast"]  # fmt: skip
    assert cast.data == {"stepName": "sign-off", "by": "alice", "approve": True, "approvals": 1, "needed": 2}

    again = vote(client, "alice", run_id)  # the same principal: counted once
    assert not again.accepted and again.refusal is Refusal.ALREADY_VOTED and again.status == CONFLICT
    assert len(client.get_run(run_id).votes[0]) == 1

    second = vote(client, "bob", run_id)
    assert second.accepted and not second.counted and second.message == "Decision recorded."
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result == {"outcome": "approved", "voters": ["alice", "bob"], "approve": [True, True]}
    step = done.steps[0]
    assert step.result["quorum"] == {"approvals": 2, "needed": 2, "outcome": "approved"}  # type: ignore[index]
    assert [v["by"] for v in step.result["votes"]] == ["alice", "bob"]  # type: ignore[index]
    assert step.receipt is not None and step.receipt["by"] == "bob"  # the vote that decided it

    late = vote(client, "carol", run_id)
    assert not late.accepted and late.refusal is Refusal.DECIDED
    assert late.message.startswith("Already decided by bob")


def test_the_first_rejection_rejects_and_only_approvers_vote(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = waiting(client)
    assert vote(client, "dave", run_id).status == FORBIDDEN  # not an approver: no vote
    assert vote(client, "alice", run_id).counted
    rejected = vote(client, "carol", run_id, approved=False)
    assert rejected.accepted and not rejected.counted
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result == {"outcome": "rejected", "voters": ["alice", "carol"], "approve": [True, False]}


def test_separation_of_duties_per_vote_and_a_quorum_that_can_no_longer_be_met(workers: Workers, client: Client) -> None:
    workers.start(1)
    # alice started it: her vote is refused; bob and carol make the two.
    run_id = waiting(client, by="alice")
    own = vote(client, "alice", run_id)
    assert own.status == FORBIDDEN and own.refusal is Refusal.OWN_RUN
    assert vote(client, "bob", run_id).counted
    assert vote(client, "carol", run_id).accepted
    assert wait_for_status(client, run_id, RunStatus.COMPLETED).result["outcome"] == "approved"  # type: ignore[index]

    # All three must approve, and alice started it: after bob's vote only carol is left, 2 < 3.
    run_id = waiting(client, {"quorum": 3}, by="alice")
    assert vote(client, "bob", run_id).accepted
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result == {"outcome": QuorumOutcome.UNREACHABLE.value, "voters": ["bob"], "approve": [True]}
    assert done.steps[0].result["event_data"] is None  # type: ignore[index]  # nobody decided it: the votes did


def test_all_of_a_group_follows_its_members_now(workers: Workers, client: Client) -> None:
    workers.start(1)
    client.groups.add("board", "alice", "bob")
    run_id = waiting(client, {"quorum": "all", "approvers": ["group:board"]})
    first = vote(client, "alice", run_id)
    assert first.counted and first.message == "Vote recorded: 1 approval of all approvers."
    client.groups.add("board", "carol")  # a new member must vote too
    assert vote(client, "bob", run_id).counted
    assert vote(client, "carol", run_id).accepted
    assert wait_for_status(client, run_id, RunStatus.COMPLETED).result["outcome"] == "approved"  # type: ignore[index]


def test_a_quorum_no_approvers_could_meet_is_refused_when_the_ask_opens(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("quorum-sign-off", {"quorum": 4})
    run = wait_for_status(client, run_id, RunStatus.FAILED)
    assert "quorum 4 is more than the 3 approvers named" in (run.error or "")


@pytest.mark.parametrize("repeat", [20])
def test_concurrent_votes_resolve_a_two_of_three_ask_exactly_once(
    workers: Workers, client: Client, repeat: int
) -> None:
    """3 principals x 20 concurrent votes each on a 2-of-3 ask, 20 times: one resolution, two votes."""
    workers.start(2)
    runs = [client.trigger("quorum-sign-off") for _ in range(repeat)]
    for run_id in runs:
        wait_for_status(client, run_id, RunStatus.WAITING)
    for run_id in runs:
        results = race(client, run_id, [name for name in ("alice", "bob", "carol") for _ in range(20)])
        assert sum(len(r.waiters) for r in results) == 1, "exactly one vote resolves the ask"
        assert sum(len(r.counted) for r in results) == 1, "exactly one vote is counted before it"
        refused = [reason for r in results for _, reason in r.refused]
        assert len(refused) == 58 and set(refused) <= {Refusal.ALREADY_VOTED, Refusal.DECIDED}
        run = wait_for_status(client, run_id, RunStatus.COMPLETED)
        voters = run.result["voters"]  # type: ignore[index]
        assert len(voters) == 2 and len(set(voters)) == 2 and run.result["outcome"] == "approved"  # type: ignore[index]
        assert len(run.votes[0]) == 2


def race(client: Client, run_id: str, names: list[str]) -> list[Resolution]:
    """Every name's vote on the run's quorum ask at once (one thread each, released together)."""
    results: list[Resolution] = []
    lock = threading.Lock()
    start = threading.Barrier(len(names))

    def cast(name: str) -> None:
        start.wait()
        receipt = {"by": name, "via": "api"}
        done = client.decide(f"quorum-{run_id}", {"approved": True}, run_id, receipt=receipt, lookback=False)
        with lock:
            results.append(done)

    threads = [threading.Thread(target=cast, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture
def prod(settings: Settings) -> Flask:
    """Production mode, each API token a principal."""
    tokens = ",".join(f"{name}:{token}" for name, token in TOKENS.items())
    return create_app(
        {"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": False, "API_TOKENS": tokens}
    )


def test_the_api_says_a_vote_counted_and_where_the_ask_stands(prod: Flask, workers: Workers, client: Client) -> None:
    workers.start(1)
    http = prod.test_client()
    run_id = waiting(client)

    def notify(name: str) -> Any:
        body = {"eventId": f"quorum-{run_id}", "eventData": {"approved": True}, "workflowRunId": run_id}
        return http.post("/api/notify", json=body, headers={"Authorization": f"Bearer {TOKENS[name]}"})

    resp = notify("alice")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["notified"] == [] and body["counted"][0]["approvals"] == 1 and body["counted"][0]["needed"] == 2
    resp = notify("alice")
    assert resp.status_code == 409 and resp.get_json()["refused"][0]["reason"] == "already_voted"
    resp = notify("bob")
    assert resp.status_code == 200 and resp.get_json()["notified"][0]["workflowRunId"] == run_id
    wait_until(lambda: client.get_run(run_id).status is RunStatus.COMPLETED)
    got = http.get(f"/api/runs/{run_id}", headers={"Authorization": f"Bearer {TOKENS['carol']}"}).get_json()
    assert [v["by"] for v in got["votes"]["0"]] == ["alice", "bob"]


def test_a_vote_sent_before_the_ask_opens_is_refused_when_it_opens(workers: Workers, client: Client) -> None:
    run_id = client.trigger("quorum-sign-off")  # no worker yet: the run has not reached its ask
    early = vote(client, "alice", run_id)
    assert early.accepted and early.status == 202  # kept (lookback), as any early decision
    workers.start(1)
    run = wait_for_status(client, run_id, RunStatus.WAITING)
    assert run.votes == {}, "one voice kept early must not decide a quorum ask"
    assert vote(client, "alice", run_id).counted  # once open, her vote counts
