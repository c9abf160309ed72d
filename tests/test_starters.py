"""Who may start a run: in production only signed-in approvers and API principals, per workflow if it says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from hitl_web import create_app
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from hitl_web.web.auth import Approvers
from tests.conftest import PASSWORD, ROOT, TEST_SECRET, Workers, csrf, signed_in, wait_for_status, worker_env

TOKENS = {"ci-bot": "ci-bot-token-0123456789abcdef", "mallory": "mallory-token-0123456789abcdef"}


def production(settings: Settings, client: Client) -> Flask:
    tokens = ",".join(f"{name}:{token}" for name, token in TOKENS.items())
    app = create_app(
        {"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": False, "API_TOKENS": tokens}
    )
    for name in ("alice", "bob"):
        Approvers(client.store.redis, settings.key_prefix).add(name, PASSWORD)
    return app


def start(http: FlaskClient, workflow: str) -> tuple[int, str]:
    resp = http.post("/runs", data={"workflow": workflow, "csrf_token": csrf(http)})
    return resp.status_code, resp.headers.get("Location", "").rsplit("/", 1)[-1]


def test_signed_out_visitors_cannot_start_runs_in_production(settings: Settings, client: Client) -> None:
    app = production(settings, client)
    guest = signed_in(app, None)
    page = guest.get("/").get_data(as_text=True)
    assert "to start a run" in page and 'class="start-form"' not in page
    for workflow in ("guarded", "human-in-loop", "basic"):
        status, _ = start(guest, workflow)
        assert status == 403
    assert client.list_runs() == []


def test_the_starter_is_the_signed_in_principal_and_sod_holds(
    settings: Settings, client: Client, workers: Workers
) -> None:
    workers.start(1)
    app = production(settings, client)
    bob = signed_in(app, "bob")
    status, run_id = start(bob, "guarded")
    assert status == 303 and client.get_run(run_id).triggered_by == "bob"
    wait_for_status(client, run_id, RunStatus.WAITING)
    token = csrf(bob, f"/runs/{run_id}")
    resp = bob.post(f"/runs/{run_id}/approvals/0", data={"decision": "approve", "csrf_token": token})
    assert resp.status_code == 403 and "separation of duties" in resp.get_data(as_text=True)
    assert client.get_run(run_id).status is RunStatus.WAITING


def test_a_workflow_names_who_may_start_it(settings: Settings, client: Client, workers: Workers) -> None:
    workers.start(1)
    app = production(settings, client)
    status, _ = start(signed_in(app, "bob"), "restricted")
    assert status == 403
    status, run_id = start(signed_in(app, "alice"), "restricted")
    assert status == 303 and client.get_run(run_id).triggered_by == "alice"

    http = app.test_client()
    for name, expected in (("mallory", 403), ("ci-bot", 200)):
        resp = http.post(
            "/api/trigger",
            json={"workflowType": "restricted"},
            headers={"Authorization": f"Bearer {TOKENS[name]}"},
        )
        assert resp.status_code == expected, resp.get_json()
    assert (
        "may start"
        in http.post(
            "/api/trigger",
            json={"workflowType": "restricted"},
            headers={"Authorization": f"Bearer {TOKENS['mallory']}"},
        ).get_json()["error"]
    )

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "hitl-web"), "trigger", "restricted", *extra],
            env=worker_env(settings),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )

    refused = cli("--as", "mallory")
    assert refused.returncode == 1 and "may start" in refused.stderr
    assert cli("--as", "ci-bot").returncode == 0
    assert sorted(r.triggered_by or "" for r in client.list_runs()) == ["alice", "ci-bot", "ci-bot"]
    for run in client.list_runs():
        wait_for_status(client, run.run_id, RunStatus.COMPLETED)
