"""Trust: who may decide, receipts that name the session's user, tokens, limits and hostile input."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from hitl_web import create_app
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from hitl_web.web.auth import Approvers
from tests.conftest import PASSWORD, TEST_SECRET, Workers, csrf, signed_in, wait_for_status, wait_until

TOKEN = "ci-token-0123456789abcdef"


@pytest.fixture
def prod(settings: Settings, client: Client) -> Flask:
    """The app as production runs it: approvers sign in, the API needs a bearer token."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SETTINGS": settings,
            "OPEN_MODE": False,
            "API_TOKENS": f"ci-bot:{TOKEN}",
        }
    )
    approvers = Approvers(client.store.redis, settings.key_prefix)
    for name in ("alice", "bob", "carol"):
        approvers.add(name, PASSWORD)
    return app


def start_guarded(http: FlaskClient, client: Client) -> str:
    resp = http.post("/runs", data={"workflow": "guarded", "csrf_token": csrf(http)})
    run_id = resp.headers["Location"].rsplit("/", 1)[1]
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def decide(http: FlaskClient, run_id: str, index: int = 0, htmx: bool = True, **extra: str) -> Any:
    """Post a decision from the run page's form (approve unless ``extra`` says otherwise)."""
    data = {"decision": "approve", "csrf_token": csrf(http, f"/runs/{run_id}"), **extra}
    headers = {"HX-Request": "true"} if htmx else {}
    return http.post(f"/runs/{run_id}/approvals/{index}", data=data, headers=headers)


def test_only_the_right_approver_decides(prod: Flask, workers: Workers, client: Client) -> None:
    workers.start(1)
    bob = signed_in(prod, "bob")
    run_id = start_guarded(bob, client)
    assert client.get_run(run_id).triggered_by == "bob"
    refusals = [
        (signed_in(prod, None), "Sign in as an approver to decide."),
        (signed_in(prod, "carol"), "Only alice, bob may decide this approval."),
        (bob, "You started this run: someone else must decide it"),
    ]
    for http, message in refusals:
        resp = decide(http, run_id)
        assert resp.status_code == 403 and message in resp.get_data(as_text=True)
        run = client.get_run(run_id)
        assert run.status is RunStatus.WAITING and run.steps[0].receipt is None
    # Without JavaScript a refusal is a 403 page with the reason, too.
    carol = signed_in(prod, "carol")
    resp = carol.post(f"/runs/{run_id}/approvals/0", data={"decision": "approve", "csrf_token": csrf(carol)})
    assert resp.status_code == 403 and "Only alice, bob" in resp.get_data(as_text=True)

    alice = signed_in(prod, "alice")
    resp = decide(alice, run_id, by="mallory", user="mallory", name="mallory")  # the body's claims are ignored
    assert resp.status_code == 200 and "approved" in resp.get_data(as_text=True)
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    receipt = run.steps[0].receipt
    assert receipt["by"] == "alice" and receipt["via"] == "form" and receipt["decision"] == {"approved": True}
    assert receipt["ip"] and len(receipt["prompt_sha256"]) == 64 and receipt["at"] > 0
    api = prod.test_client().get(f"/api/runs/{run_id}", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert api["steps"][0]["receipt"]["by"] == "alice"


def test_sign_in_errors_and_sign_out(prod: Flask) -> None:
    http = prod.test_client()
    resp = http.post("/login", data={"name": "alice", "password": "wrong", "csrf_token": csrf(http, "/login")})
    assert resp.status_code == 401 and "Wrong name or password" in resp.get_data(as_text=True)
    resp = http.post("/login", data={"name": "nobody", "password": PASSWORD, "csrf_token": csrf(http, "/login")})
    assert resp.status_code == 401
    resp = http.post("/login", data={"name": "alice", "password": PASSWORD})  # no CSRF token
    assert resp.status_code == 400
    alice = signed_in(prod, "alice")
    assert "signed in as" in alice.get("/").get_data(as_text=True)
    alice.post("/logout", data={"csrf_token": csrf(alice)})
    assert "Approver sign-in" in alice.get("/").get_data(as_text=True)


def test_local_mode_says_anyone_can_decide(app: Flask) -> None:
    assert "Local mode: anyone can approve or reject" in app.test_client().get("/").get_data(as_text=True)


def test_api_needs_a_bearer_token_in_production(prod: Flask, workers: Workers, client: Client) -> None:
    workers.start(1)
    http = prod.test_client()
    body = {"workflowType": "human-in-loop"}
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
        resp = http.post("/api/trigger", json=body, headers=headers)
        assert resp.status_code == 401 and "Bearer" in resp.get_json()["error"]
    assert client.list_runs() == []
    auth = {"Authorization": f"Bearer {TOKEN}"}
    run_id = http.post("/api/trigger", json=body, headers=auth).get_json()["workflowRunId"]
    assert client.get_run(run_id).triggered_by == "ci-bot"
    wait_for_status(client, run_id, RunStatus.WAITING)
    decision = {"eventId": f"approval-{run_id}", "eventData": {"approved": True}}
    resp = http.post("/api/notify", json=decision, headers=auth)
    assert resp.status_code == 200
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.steps[1].receipt["by"] == "ci-bot" and run.steps[1].receipt["via"] == "api"


def test_view_can_require_sign_in(settings: Settings, client: Client) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SETTINGS": settings,
            "OPEN_MODE": False,
            "REQUIRE_LOGIN_TO_VIEW": True,
        }
    )
    Approvers(client.store.redis, settings.key_prefix).add("alice", PASSWORD)
    http = app.test_client()
    resp = http.get("/")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/login")
    assert signed_in(app, "alice").get("/").status_code == 200


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"eventId": "e", "eventData": nested(40)}, 400, "nests deeper"),
        ({"eventId": "e", "eventData": "x" * (70 * 1024)}, 413, "larger than 64 KB"),
    ],
)
def test_event_data_limits(app: Flask, body: dict[str, Any], status: int, error: str) -> None:
    resp = app.test_client().post("/api/notify", json=body)
    assert resp.status_code == status and error in resp.get_json()["error"]


def test_deeply_nested_body_is_a_clear_400(app: Flask) -> None:
    resp = app.test_client().post("/api/notify", data="[" * 100_000, content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["success"] is False


# -- fuzz: never a 500, always a clear error, nothing stored changes ------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
KEYS = st.sampled_from(["workflowType", "payload", "eventId", "eventData", "workflowRunId", "decision"])
BODY = st.one_of(
    st.dictionaries(KEYS | st.text(max_size=10), JSON, max_size=6),
    JSON,
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
)


def snapshot(client: Client, run_id: str) -> Any:
    run = client.get_run(run_id)
    return (run.status, [s.to_json() for s in run.steps], client.get_waiters(f"approval-{run_id}"))


@pytest.fixture
def waiting_run(workers: Workers, client: Client) -> str:
    workers.start(1)
    run_id = client.trigger("human-in-loop", {"userId": "u", "action": "a"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def test_fuzz_api_and_form(app: Flask, client: Client, waiting_run: str) -> None:
    http = app.test_client()
    token = csrf(http, f"/runs/{waiting_run}")
    before = snapshot(client, waiting_run)
    runs_before = len(client.list_runs(limit=200))
    created: list[str] = []

    @hsettings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=BODY, as_json=st.booleans(), target=st.sampled_from(["trigger", "notify", "form"]))
    def one(body: Any, as_json: bool, target: str) -> None:
        if target == "form":
            form = body if isinstance(body, dict) else {"decision": body}
            form = {str(k): json.dumps(v) if not isinstance(v, str) else v for k, v in form.items()}
            form["csrf_token"] = token
            form.setdefault("decision", "maybe")
            if form["decision"] in {"approve", "reject"}:
                form["decision"] = "maybe"  # a valid decision would legitimately change the run
            resp = http.post(f"/runs/{waiting_run}/approvals/1", data=form)
            assert resp.status_code in {303, 400, 404, 413}, resp.status_code
            return
        if target == "notify" and isinstance(body, dict) and body.get("eventId") == f"approval-{waiting_run}":
            body["eventId"] = "not-that-one"
        data = json.dumps(body, allow_nan=True) if as_json or not isinstance(body, str) else body
        resp = http.post(f"/api/{target}", data=data, content_type="application/json" if as_json else "text/plain")
        assert resp.status_code < 500, (resp.status_code, data[:200])
        assert resp.is_json
        if resp.status_code == 200 and target == "trigger":
            created.append(resp.get_json()["workflowRunId"])
        elif resp.status_code != 200:
            assert resp.get_json()["error"]

    seen: list[int] = []
    inner = one.hypothesis.inner_test

    def counted(**kwargs: Any) -> None:
        seen.append(1)
        inner(**kwargs)

    one.hypothesis.inner_test = counted
    one()
    assert len(seen) >= 1000, f"only {len(seen)} bodies were tried"
    assert snapshot(client, waiting_run) == before
    assert len(client.list_runs(limit=2000)) == runs_before + len(created)


# -- 100 concurrent decisions from 10 sessions ----------------------------------------------
def test_hundred_concurrent_decisions_one_wins(app: Flask, client: Client, waiting_run: str) -> None:
    sessions = [app.test_client() for _ in range(10)]
    tokens = [csrf(s, f"/runs/{waiting_run}") for s in sessions]
    names = []
    for s in sessions:
        with s.session_transaction() as sess:
            names.append(sess["user"])
    barrier = threading.Barrier(100)
    answers: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        s, token = sessions[i % 10], tokens[i % 10]
        barrier.wait()
        form = {"decision": "approve" if i % 2 else "reject", "csrf_token": token}
        resp = s.post(f"/runs/{waiting_run}/approvals/1", data=form, headers={"HX-Request": "true"})
        with lock:
            answers.append((resp.status_code, resp.get_data(as_text=True), names[i % 10]))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [a for a in answers if a[0] == 200]
    assert len(won) == 1, [a[0] for a in answers]
    winner = won[0][2]
    refused = [a for a in answers if a[0] == 409]
    assert len(refused) == 99 and all(f"Already decided by {winner}" in text for _, text, _ in refused)
    run = wait_for_status(client, waiting_run, RunStatus.COMPLETED)
    assert run.steps[1].receipt["by"] == winner


def test_cli_manages_approvers(settings: Settings, client: Client) -> None:
    from tests.test_deploy import cli

    added = cli(settings, "approver", "add", "dana", "--password-stdin", input_text=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    approvers = Approvers(client.store.redis, settings.key_prefix)
    assert approvers.check("dana", PASSWORD) and not approvers.check("dana", "nope")
    stored = client.store.redis.hget(approvers.key, "dana")
    assert stored and PASSWORD.encode() not in stored  # only a hash is kept
    assert "dana" in cli(settings, "approver", "list").stdout
    short = cli(settings, "approver", "add", "erin", "--password-stdin", input_text="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    assert cli(settings, "approver", "add", "erin").returncode == 1  # no terminal, no --password-stdin
    assert cli(settings, "approver", "remove", "dana").returncode == 0
    gone = cli(settings, "approver", "remove", "dana")
    assert gone.returncode == 1 and "no approver 'dana'" in gone.stderr


def test_sockets_refuse_other_origins(web: Any, client: Client) -> None:
    import simple_websocket

    run_id = client.trigger("human-in-loop")
    url = f"ws://127.0.0.1:{web.port}/ws/runs/{run_id}?after=0-0"
    with pytest.raises(simple_websocket.ConnectionError) as refused:
        simple_websocket.Client.connect(url, headers={"Origin": "http://evil.example"})
    assert refused.value.status_code == 403
    ws = simple_websocket.Client.connect(url, headers={"Origin": f"http://127.0.0.1:{web.port}"})
    try:
        assert ws.connected and ws.receive(timeout=5) is not None  # same origin: the catch-up push
    finally:
        ws.close()


def test_input_resolved_event_carries_the_receipt(app: Flask, client: Client, waiting_run: str) -> None:
    from hitl_web.live import Realtime

    decide(app.test_client(), waiting_run, 1, htmx=False, decision="reject", comment="no")
    channel = Realtime(client.store.redis, client.settings.key_prefix).channel(waiting_run)
    wait_until(lambda: any(e.name == "workflow.inputResolved" for _, e in channel.history()))
    (event,) = [e for _, e in channel.history() if e.name == "workflow.inputResolved"]
    receipt = event.data["receipt"]
    assert (
        receipt["by"].startswith("guest-") and receipt["comment"] == "no" and receipt["decision"] == {"approved": False}
    )
    assert receipt["via"] == "form" and receipt["prompt_sha256"] and event.data["decidedBy"] == receipt["by"]


def test_sockets_need_sign_in_when_viewing_does(settings: Settings, client: Client, tmp_path: Any) -> None:
    import simple_websocket

    from hitl_web.stack import WebServer

    env = {"HITL_ENV": "production", "HITL_REQUIRE_LOGIN_TO_VIEW": "true"}
    web = WebServer(settings, tmp_path / "web", env).start()
    try:
        run_id = client.trigger("human-in-loop")
        with pytest.raises(simple_websocket.ConnectionError) as refused:
            simple_websocket.Client.connect(f"ws://127.0.0.1:{web.port}/ws/runs/{run_id}?after=0-0")
        assert refused.value.status_code == 403
    finally:
        web.stop()


def test_run_page_shows_the_receipt(app: Flask, client: Client, waiting_run: str) -> None:
    http = app.test_client()
    decide(http, waiting_run, 1, htmx=False, comment="lgtm")
    page = http.get(f"/runs/{waiting_run}").get_data(as_text=True)
    assert "approved</strong> by guest-" in page and "“lgtm”" in page
    assert "via form" in page and "prompt sha256" in page
