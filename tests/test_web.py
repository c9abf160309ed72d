"""Pages, forms and the JSON API through Flask's test client, against the real Redis and worker."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hitl_web import create_app
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from hitl_web.web.fragments import render_fragment, run_fragments
from hitl_web.web.views import run_view
from tests.conftest import TEST_SECRET, Workers, wait_for_status, wait_until


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_of(http: FlaskClient, path: str = "/") -> str:
    page = http.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(r'"X-CSRF-Token": "([^"]+)"', page)
    assert match, "the page carries this session's CSRF token"
    return match.group(1)


# -- JSON API ------------------------------------------------------------------------------
def test_api_trigger_and_get_run(http: FlaskClient, workers: Workers, client: Client) -> None:
    workers.start(1)
    resp = http.post("/api/trigger", json={"workflowType": "human-in-loop", "payload": {"userId": "u", "action": "a"}})
    assert resp.status_code == 200
    run_id = resp.get_json()["workflowRunId"]
    wait_for_status(client, run_id, RunStatus.WAITING)
    run = http.get(f"/api/runs/{run_id}").get_json()
    assert run["workflowRunId"] == run_id and run["workflowType"] == "human-in-loop" and run["status"] == "waiting"
    assert [s["stepName"] for s in run["steps"]] == ["initial-processing", "wait-for-approval"]
    assert run["steps"][0]["status"] == "completed" and run["steps"][0]["result"]["userId"] == "u"
    assert run["waiting"][0]["eventId"] == f"approval-{run_id}" and run["waiting"][0]["message"] == 'Approve "a" for u?'
    resp = http.post("/api/notify", json={"eventId": f"approval-{run_id}", "eventData": {"approved": True}})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True and [n["workflowRunId"] for n in body["notified"]] == [run_id]
    wait_for_status(client, run_id, RunStatus.COMPLETED)
    run = http.get(f"/api/runs/{run_id}").get_json()
    assert run["result"] == {"success": True, "approved": True, "workflowRunId": run_id}
    assert run["steps"][1]["receipt"]["by"] == "api"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"workflowType": "nope"}, 400, "unknown workflow 'nope'"),
        ({}, 400, "workflowType is required"),
        ({"workflowType": 3}, 400, "workflowType must be a string"),
        ({"workflowType": "human-in-loop", "payload": {"userId": 5}}, 400, "userId: Input should be a valid string"),
        ({"workflowType": "basic", "payload": [1]}, 400, "invalid payload"),
        ({"workflowType": "basic", "workflowRunId": "a/b"}, 400, "run id"),
        ({"workflowType": "basic", "workflowRunId": 7}, 400, "workflowRunId must be a string"),
    ],
)
def test_api_trigger_errors(http: FlaskClient, client: Client, body: dict, status: int, error: str) -> None:
    resp = http.post("/api/trigger", json=body)
    assert resp.status_code == status and error in resp.get_json()["error"]
    assert client.list_runs() == []


def test_api_trigger_duplicate_run_id_is_409(http: FlaskClient) -> None:
    assert http.post("/api/trigger", json={"workflowType": "basic", "workflowRunId": "dup"}).status_code == 200
    resp = http.post("/api/trigger", json={"workflowType": "basic", "workflowRunId": "dup"})
    assert resp.status_code == 409 and "already exists" in resp.get_json()["error"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"data": "not json", "content_type": "application/json"}, "must be JSON"),
        ({"data": "eventId=x", "content_type": "application/x-www-form-urlencoded"}, "must be JSON"),
        ({"json": [1, 2]}, "must be a JSON object"),
        ({"json": {"eventData": {}}}, "eventId is required"),
        ({"json": {"eventId": ""}}, "eventId is required"),
        ({"json": {"eventId": 12}}, "eventId must be a string"),
        ({"json": {"eventId": "e", "workflowRunId": 1}}, "workflowRunId must be a string"),
    ],
)
def test_api_notify_errors(http: FlaskClient, kwargs: dict, error: str) -> None:
    resp = http.post("/api/notify", **kwargs)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["success"] is False and error in body["error"]


def test_api_notify_without_waiter(http: FlaskClient) -> None:
    resp = http.post("/api/notify", json={"eventId": "nobody", "eventData": {"approved": True}})
    assert resp.status_code == 200 and resp.get_json() == {"success": True, "notified": []}


def test_api_unknown_run_and_route_are_json_404(http: FlaskClient) -> None:
    resp = http.get("/api/runs/wfr_nope")
    assert resp.status_code == 404 and "no run" in resp.get_json()["error"]
    resp = http.get("/api/nothing-here")
    assert resp.status_code == 404 and resp.get_json()["success"] is False
    resp = http.get("/api/notify")
    assert resp.status_code == 405 and resp.is_json


def test_api_body_too_large_is_413_json(http: FlaskClient) -> None:
    resp = http.post("/api/notify", data="x" * (2 * 1024 * 1024), content_type="application/json")
    assert resp.status_code == 413 and resp.is_json


def test_api_list_runs(http: FlaskClient) -> None:
    run_id = http.post("/api/trigger", json={"workflowType": "basic"}).get_json()["workflowRunId"]
    runs = http.get("/api/runs?status=running").get_json()["runs"]
    assert [r["workflowRunId"] for r in runs] == [run_id]
    assert http.get("/api/runs?status=bogus").status_code == 400
    assert http.get("/api/runs?limit=x").status_code == 400


# -- pages and forms -----------------------------------------------------------------------
def test_start_form_needs_csrf(http: FlaskClient, client: Client) -> None:
    resp = http.post("/runs", data={"workflow": "basic"})
    assert resp.status_code == 400 and "expired" in resp.get_data(as_text=True)
    assert client.list_runs() == []
    token = csrf_of(http)
    resp = http.post("/runs", data={"workflow": "basic", "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/runs/wfr_")


def test_start_form_unknown_workflow_is_inline_message(http: FlaskClient) -> None:
    token = csrf_of(http)
    resp = http.post("/runs", data={"workflow": "nope", "csrf_token": token}, follow_redirects=True)
    assert resp.status_code == 200 and "unknown workflow" in resp.get_data(as_text=True)


def test_decide_by_form_then_late_decision_is_refused(
    http: FlaskClient, app: Flask, workers: Workers, client: Client
) -> None:
    workers.start(1)
    run_id = client.trigger("human-in-loop", {"userId": "u", "action": "a"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    token = csrf_of(http, f"/runs/{run_id}")
    with http.session_transaction() as session:
        me = session["user"]
    resp = http.post(f"/runs/{run_id}/approvals/1", data={"decision": "approve", "csrf_token": token, "comment": "ok"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/runs/{run_id}"
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.steps[1].receipt["by"] == me and run.steps[1].receipt["comment"] == "ok"
    # A second session, late, with htmx: told who decided first; nothing changes.
    other = app.test_client()
    token2 = csrf_of(other, f"/runs/{run_id}")
    resp = other.post(
        f"/runs/{run_id}/approvals/1", data={"decision": "reject", "csrf_token": token2}, headers={"HX-Request": "true"}
    )
    text = resp.get_data(as_text=True)
    assert resp.status_code == 409 and f"Already decided by {me} at" in text and "approved" in text
    assert client.get_run(run_id).steps[1].receipt["by"] == me
    # Without JavaScript: a 303 back to the page, which shows the refusal inline.
    resp = other.post(
        f"/runs/{run_id}/approvals/1", data={"decision": "reject", "csrf_token": token2}, follow_redirects=True
    )
    assert resp.status_code == 200 and f"Already decided by {me}" in resp.get_data(as_text=True)


def test_decide_wrong_step_or_run_is_404(http: FlaskClient, workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("human-in-loop")
    wait_for_status(client, run_id, RunStatus.WAITING)
    token = csrf_of(http, f"/runs/{run_id}")
    approve = {"decision": "approve", "csrf_token": token}
    assert http.post(f"/runs/{run_id}/approvals/0", data=approve).status_code == 404
    assert http.post("/runs/nope/approvals/1", data=approve).status_code == 404
    resp = http.post(
        f"/runs/{run_id}/approvals/1", data={"decision": "maybe", "csrf_token": token}, follow_redirects=True
    )
    assert "Choose Approve or Reject" in resp.get_data(as_text=True)
    assert client.get_run(run_id).status is RunStatus.WAITING


def test_unknown_run_page_is_404_inline(http: FlaskClient) -> None:
    resp = http.get("/runs/wfr_nope")
    assert resp.status_code == 404 and "There is no run" in resp.get_data(as_text=True)


def test_fragments_escape_untrusted_text(app: Flask, workers: Workers, client: Client) -> None:
    workers.start(1)
    evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
    run_id = client.trigger("human-in-loop", {"userId": evil, "action": evil})
    run = wait_for_status(client, run_id, RunStatus.WAITING)
    with app.test_request_context():
        html = run_fragments(run)
        row = render_fragment("steps", run=run_view(run))
    for fragment in (html, row):
        assert "<script>" not in fragment and "<img" not in fragment
        assert "&lt;script&gt;" in fragment
    assert 'hx-swap-oob="true"' in html and 'id="run-status"' in html and 'id="steps"' in html


def test_healthz(http: FlaskClient, workers: Workers) -> None:
    assert http.get("/healthz").get_json() == {"ok": True, "redis": "ok", "workers": 0, "stale": [], "sockets": 0}
    workers.start(1)
    wait_until(lambda: http.get("/healthz").get_json()["workers"] == 1)


def test_healthz_503_without_redis(settings: Settings) -> None:
    from hitl_web.devtools.embedded_redis import free_port

    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": dead})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["ok"] is False


def test_production_refuses_to_start_without_secret_key(settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("HITL_ENV", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SETTINGS": settings})


def test_decision_after_the_timeout_is_refused_as_expired(http: FlaskClient, workers: Workers, client: Client) -> None:
    workers.start(1, {"HITL_APPROVAL_TIMEOUT": "1s"})
    run_id = client.trigger("human-in-loop")
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result == {"success": False, "reason": "timeout"}
    token = csrf_of(http, f"/runs/{run_id}")
    resp = http.post(
        f"/runs/{run_id}/approvals/1", data={"decision": "approve", "csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert resp.status_code == 409 and "This approval expired" in resp.get_data(as_text=True)
    assert client.get_run(run_id).steps[1].receipt is None
