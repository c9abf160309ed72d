"""Reassigning an open ask: by an allowed approver or an operator, atomic with votes, recorded and announced."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import redis

from hitl_web import create_app
from hitl_web.approvals import Decider, decide
from hitl_web.approvals.decisions import CONFLICT, FORBIDDEN, INVALID, OK
from hitl_web.approvals.reassignments import parse_targets, reassign_step
from hitl_web.engine import Client, RunStatus
from hitl_web.engine.outcomes import Refusal
from hitl_web.live import Realtime
from hitl_web.settings import Settings
from tests.conftest import ROOT, TEST_SECRET, Workers, wait_for_status, worker_env


def finance_ask(client: Client) -> str:
    run_id = client.trigger("finance-sign-off")  # approvers: carol, group:finance
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def approve(client: Client, name: str, run_id: str, event: str = "finance") -> Any:
    [decision] = decide(client, Decider(name, True, "api"), f"{event}-{run_id}", {"approved": True}, run_id=run_id)
    return decision


def move(client: Client, name: str, run_id: str, to: str, reason: str = "on leave") -> Any:
    return reassign_step(client, Decider(name, True, "form"), run_id, 0, parse_targets(to), reason, open_mode=False)


def test_an_approver_reassigns_the_old_one_is_refused_the_new_one_decides(
    workers: Workers, client: Client, rconn: redis.Redis
) -> None:
    workers.start(1)
    run_id = finance_ask(client)
    done = move(client, "carol", run_id, "dave, group:legal", "carol is on leave this week")
    assert done.accepted and done.status == OK and done.message == "Reassigned to dave, members of legal."
    step = client.get_run(run_id).steps[0]
    assert step.approvers == ["dave", "group:legal"]
    [record] = step.reassignments or []
    assert record["by"] == "carol" and record["from"] == ["carol", "group:finance"]
    assert record["to"] == ["dave", "group:legal"] and record["reason"] == "carol is on leave this week"
    [event] = [e for _, e in Realtime(rconn, client.settings.key_prefix).channel(run_id).history()
               if e.name == "workflow.reassigned"]  # fmt: skip
    assert event.data["by"] == "carol" and event.data["to"] == ["dave", "group:legal"]

    old = approve(client, "carol", run_id)  # no longer hers
    assert old.status == FORBIDDEN and old.refusal is Refusal.NOT_APPROVER
    assert old.message == "Only dave, members of legal may decide this approval."
    assert approve(client, "dave", run_id).accepted
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.steps[0].receipt["by"] == "dave"  # type: ignore[index]
    # The receipt's prompt hash is the reassigned prompt's (its approvers are part of it).
    assert run.steps[0].receipt["prompt_sha256"] == run.steps[0].prompt_sha256()  # type: ignore[index]

    late = move(client, "dave", run_id, "erin")
    assert late.status == CONFLICT and late.refusal is Refusal.DECIDED


def test_only_who_may_decide_reassigns_and_bad_input_changes_nothing(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = finance_ask(client)
    before = client.get_run(run_id).steps[0]
    outsider = move(client, "mallory", run_id, "mallory")
    assert outsider.status == FORBIDDEN and outsider.refusal is Refusal.NOT_APPROVER
    visitor = reassign_step(client, Decider("guest-1", False, "form"), run_id, 0, ["bob"], "x", open_mode=False)
    assert visitor.status == FORBIDDEN
    for to, reason in (("", "nobody"), ("bob", "  "), ("group:", "no name"), ("a" * 65, "too long")):
        bad = move(client, "carol", run_id, to, reason)
        assert bad.status == INVALID and bad.message.startswith("Not reassigned:"), (to, bad.message)
    assert move(client, "carol", run_id + "x", "bob").status == 404
    assert client.get_run(run_id).steps[0] == before


def test_an_operator_reassigns_from_the_command_line(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = finance_ask(client)
    command = [sys.executable, "-m", "hitl_web.cli", "reassign", run_id, "--step", "0", "--to", "bob",
               "--reason", "the team lead asked"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=worker_env(client.settings), capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"hitl-web: run {run_id}: Reassigned to bob.", done.stderr
    [record] = client.get_run(run_id).steps[0].reassignments or []
    assert record["by"].startswith("cli:")
    assert approve(client, "bob", run_id).accepted
    wait_for_status(client, run_id, RunStatus.COMPLETED)

    again = subprocess.run(command, cwd=ROOT, env=worker_env(client.settings), capture_output=True, text=True)
    assert again.returncode != 0 and "Already decided by bob" in again.stderr


def at_once(**calls: Callable[[], Any]) -> dict[str, Any]:
    """Each call on a thread of its own, released together; their answers by name."""
    answers: dict[str, Any] = {}
    start = threading.Barrier(len(calls))

    def run(name: str, call: Callable[[], Any]) -> None:
        start.wait()
        answers[name] = call()

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_a_reassignment_and_a_decision_at_once_one_of_them_wins_whole(workers: Workers, client: Client) -> None:
    """carol decides and carol reassigns to dave at the same moment, 20 times: never both, never neither."""
    workers.start(2)
    runs = [finance_ask(client) for _ in range(20)]
    for run_id in runs:
        outcome = at_once(
            decided=lambda run_id=run_id: approve(client, "carol", run_id),
            moved=lambda run_id=run_id: move(client, "carol", run_id, "dave"),
        )
        decided, moved = outcome["decided"], outcome["moved"]
        assert decided.accepted != moved.accepted, (decided.message, moved.message)
        run = client.get_run(run_id)
        if decided.accepted:
            assert moved.refusal is Refusal.DECIDED and not run.steps[0].reassignments
            wait_for_status(client, run_id, RunStatus.COMPLETED)
        else:
            assert decided.refusal is Refusal.NOT_APPROVER and run.steps[0].approvers == ["dave"]
            assert run.status is RunStatus.WAITING


def test_votes_counted_stay_counted_and_the_new_approvers_finish_the_quorum(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("quorum-sign-off")  # 2 of alice, bob, carol
    wait_for_status(client, run_id, RunStatus.WAITING)
    assert approve(client, "alice", run_id, "quorum").counted
    assert move(client, "alice", run_id, "dave erin", "bob and carol are away").accepted
    assert approve(client, "bob", run_id, "quorum").status == FORBIDDEN
    assert approve(client, "dave", run_id, "quorum").accepted
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result == {"outcome": "approved", "voters": ["alice", "dave"], "approve": [True, True]}


def test_the_api_reassigns_under_the_same_policy(settings: Settings, workers: Workers, client: Client) -> None:
    workers.start(1)
    tokens = {name: f"{name}-token-0123456789abcdef" for name in ("carol", "mallory")}
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": False,
                      "API_TOKENS": ",".join(f"{n}:{t}" for n, t in tokens.items())})  # fmt: skip
    http = app.test_client()
    run_id = finance_ask(client)

    def post(name: str, body: Any) -> Any:
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        return http.post(f"/api/runs/{run_id}/approvals/0/reassign", json=body, headers=headers)

    assert post("carol", {"to": "bob", "reason": "x"}).status_code == 400  # a list, not a string
    assert post("carol", {"to": ["bob"]}).status_code == 400
    refused = post("mallory", {"to": ["mallory"], "reason": "mine now"})
    assert refused.status_code == 403 and refused.get_json()["reason"] == "not_approver"
    done = post("carol", {"to": ["bob", "group:legal"], "reason": "bob knows the customer"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["approvers"] == ["bob", "group:legal"]
    assert client.get_run(run_id).steps[0].reassignments[0]["by"] == "carol"  # type: ignore[index]
