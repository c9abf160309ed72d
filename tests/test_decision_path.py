"""One decision path: the JSON API, the command line and lookback decisions meet the same policy as forms."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hitl_web import create_app
from hitl_web.engine import Client, RunStatus
from hitl_web.live import Realtime
from hitl_web.settings import Settings
from tests.conftest import ROOT, TEST_SECRET, Workers, csrf, wait_for_status, wait_until, worker_env

TOKENS = {name: f"{name}-token-0123456789abcdef" for name in ("alice", "bob", "mallory")}


@pytest.fixture
def prod(settings: Settings) -> Flask:
    """Production mode, where each API token is a principal: alice and bob may sign off, mallory may not."""
    tokens = ",".join(f"{name}:{token}" for name, token in TOKENS.items())
    return create_app(
        {"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": False, "API_TOKENS": tokens}
    )


def api(http: FlaskClient, as_name: str, path: str, body: dict[str, Any]) -> Any:
    return http.post(f"/api/{path}", json=body, headers={"Authorization": f"Bearer {TOKENS[as_name]}"})


def trigger_guarded(http: FlaskClient, as_name: str) -> str:
    resp = api(http, as_name, "trigger", {"workflowType": "guarded"})
    assert resp.status_code == 200, resp.get_json()
    return str(resp.get_json()["workflowRunId"])


def unchanged(client: Client, run_id: str) -> None:
    """The run still waits on its sign-off: nothing of the refused decision was stored."""
    run = client.get_run(run_id)
    assert run.status is RunStatus.WAITING and run.steps[0].receipt is None and run.steps[0].result is None
    assert [w.run_id for w in client.get_waiters(f"sign-off-{run_id}")] == [run_id]


def test_api_decisions_meet_the_policy(prod: Flask, workers: Workers, client: Client) -> None:
    workers.start(1)
    http = prod.test_client()
    run_id = trigger_guarded(http, "alice")
    wait_for_status(client, run_id, RunStatus.WAITING)
    event = f"sign-off-{run_id}"
    approve = {"eventId": event, "eventData": {"approved": True}}

    # A token outside the wait's approvers: 403 with the reason, with or without the run id.
    for body in (approve, {**approve, "workflowRunId": run_id}):
        resp = api(http, "mallory", "notify", body)
        assert resp.status_code == 403, resp.get_json()
        assert resp.get_json()["error"] == "Only alice, bob may decide this approval."
        assert resp.get_json()["refused"][0]["reason"] == "not_approver"
        unchanged(client, run_id)
    # The token that started the run, under separation of duties: 403.
    resp = api(http, "alice", "notify", {**approve, "workflowRunId": run_id})
    assert resp.status_code == 403 and "separation of duties" in resp.get_json()["error"]
    unchanged(client, run_id)

    shown = client.get_run(run_id).steps[0].prompt_sha256()
    resp = api(http, "bob", "notify", approve)
    assert resp.status_code == 200 and resp.get_json()["notified"][0]["workflowRunId"] == run_id
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    receipt = run.steps[0].receipt
    assert receipt is not None and receipt["by"] == "bob" and receipt["via"] == "api"
    assert receipt["prompt_sha256"] == shown
    # Once decided, the same decision again is a 409 naming who was first; nothing changes.
    resp = api(http, "bob", "notify", {**approve, "workflowRunId": run_id})
    assert resp.status_code == 409 and resp.get_json()["error"].startswith("Already decided by bob at ")
    assert client.get_run(run_id).steps[0].receipt == receipt


def test_lookback_decisions_meet_the_policy_when_the_wait_consumes_them(
    prod: Flask, workers: Workers, client: Client
) -> None:
    http = prod.test_client()
    # No worker yet: both runs are triggered but have not reached their waits.
    refused_run, allowed_run = trigger_guarded(http, "alice"), trigger_guarded(http, "alice")
    for run_id, name in ((refused_run, "mallory"), (allowed_run, "bob")):
        body = {"eventId": f"sign-off-{run_id}", "eventData": {"approved": True}, "workflowRunId": run_id}
        resp = api(http, name, "notify", body)
        assert resp.status_code == 200 and resp.get_json() == {"success": True, "notified": [], "kept": True}
    workers.start(1)

    # mallory's kept decision is refused by the wait that consumes it: the wait stays open, with a warning.
    wait_for_status(client, refused_run, RunStatus.WAITING)
    unchanged(client, refused_run)
    history = Realtime(client.store.redis, client.settings.key_prefix).channel(refused_run)
    warnings = wait_until(lambda: [e for _, e in history.history() if e.name == "workflow.warning"])
    message = warnings[0].data["message"]  # type: ignore[index]
    assert "'mallory'" in message and "not_approver" in message

    run = wait_for_status(client, allowed_run, RunStatus.COMPLETED)
    receipt = run.steps[0].receipt
    assert receipt is not None and receipt["by"] == "bob" and receipt["prompt_sha256"] == run.steps[0].prompt_sha256()
    assert run.result == {"decision": {"approved": True}}


def test_the_command_line_decides_through_the_policy(settings: Settings, workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("guarded", triggered_by="alice")
    wait_for_status(client, run_id, RunStatus.WAITING)

    def notify(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "hitl-web"), "notify", f"sign-off-{run_id}", "--data", "true", *extra],
            env=worker_env(settings),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )

    for extra, reason in ((("--as", "mallory"), "Only alice, bob"), (("--as", "alice"), "separation of duties")):
        done = notify(*extra)
        assert done.returncode == 1 and reason in done.stderr, done.stderr
        unchanged(client, run_id)
    done = notify("--as", "bob", "--run", run_id)
    assert done.returncode == 0 and json.loads(done.stdout)["notified"][0]["run_id"] == run_id
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    receipt = run.steps[0].receipt
    assert receipt is not None and receipt["by"] == "bob" and receipt["via"] == "cli"


def test_a_plain_notify_without_a_principal_is_not_held_to_the_policy(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("guarded", triggered_by="alice")
    wait_for_status(client, run_id, RunStatus.WAITING)
    assert len(client.notify(f"sign-off-{run_id}", {"approved": True})) == 1  # library code, as in Upstash
    assert wait_for_status(client, run_id, RunStatus.COMPLETED).steps[0].receipt is None


def test_a_decision_right_after_another_is_refused_not_kept(prod: Flask, workers: Workers, client: Client) -> None:
    (worker,) = workers.start(1)
    http = prod.test_client()
    run_id = client.trigger("guarded", triggered_by="carol")
    wait_for_status(client, run_id, RunStatus.WAITING)
    workers.stop_all()  # the run stays resolved but not yet resumed: its step record still says waiting
    body = {"eventId": f"sign-off-{run_id}", "eventData": {"approved": True}, "workflowRunId": run_id}
    assert api(http, "bob", "notify", body).status_code == 200
    resp = api(http, "alice", "notify", {**body, "eventData": {"approved": False}})
    assert resp.status_code == 409 and resp.get_json()["error"].startswith("Already decided by bob at ")
    assert not client.store.redis.exists(client.store.keys.of(run_id).lookback)
    assert worker.poll() is not None


def test_a_form_for_a_finished_wait_never_decides_a_later_one(app: Flask, workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("twice")
    wait_for_status(client, run_id, RunStatus.WAITING)
    assert client.notify(f"again-{run_id}", "first")
    wait_until(lambda: client.get_run(run_id).status is RunStatus.WAITING and len(client.get_run(run_id).steps) == 2)
    http = app.test_client()
    token = csrf(http, f"/runs/{run_id}")
    resp = http.post(f"/runs/{run_id}/approvals/0", data={"decision": "approve", "csrf_token": token})
    assert resp.status_code == 303
    run = client.get_run(run_id)
    assert run.status is RunStatus.WAITING and run.steps[1].result is None  # "Refund $10,000?" still open
    assert "Already decided" in http.get(f"/runs/{run_id}").get_data(as_text=True)
