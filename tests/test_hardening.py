"""Issue 13, hardening: bounded durations, collision-free keys, text that is Unicode, bounded chunked bodies."""

from __future__ import annotations

import http.client as httpc
import json
import math
import re
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from hitl_web.approvals.decisions import when
from hitl_web.engine import Client, InvalidDuration, RunStatus, parse_duration
from hitl_web.engine.durations import MAX_SECONDS, DurationTooLong
from hitl_web.live import Realtime
from hitl_web.settings import Settings
from tests.conftest import WebServer, Workers, wait_for_status, wait_until


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_of(http: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', http.get(path).get_data(as_text=True))
    assert match, "the page carries this session's CSRF token"
    return match.group(1)


def waiting_run(client: Client, run_id: str | None = None, timeout: str = "1h") -> str:
    """A run of tests.flows' ``waiter`` (its wait is step 0), waiting on ``ev-<run id>``."""
    run_id = client.trigger("waiter", {"timeout": timeout}, run_id)
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


# -- item 8: durations are bounded, and no stored time takes a page down ----------------------
def test_ten_years_is_the_longest_duration() -> None:
    ten_years = timedelta(days=3652.5).total_seconds()
    assert ten_years == MAX_SECONDS
    assert parse_duration(ten_years - 1) == ten_years - 1
    assert parse_duration(ten_years) == ten_years
    assert parse_duration("3652d") == 3652 * 86400.0
    assert parse_duration(timedelta(days=3652, hours=11, minutes=59, seconds=59)) == ten_years - 1
    absurd_ones = ("99999999d", "9" * 300 + "s", "9" * 400 + "s", 1e300, math.inf, ten_years + 1, 10**400, "3653d")
    for absurd in (*absurd_ones, timedelta.max):
        with pytest.raises(DurationTooLong, match="longer than the limit of 10 years"):
            parse_duration(absurd)  # type: ignore[arg-type]
    assert issubclass(DurationTooLong, ValueError) and issubclass(DurationTooLong, InvalidDuration)


@pytest.mark.parametrize("bad", [math.nan, -math.inf, -1, -0.001, -(10**400), "1e300", "", True])
def test_durations_that_are_no_time_are_refused(bad: object) -> None:
    with pytest.raises(InvalidDuration):
        parse_duration(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ts", "shown"),
    [
        (None, ""),
        (0, ""),
        (86400.0, "1970-01-02 00:00:00 UTC"),
        (1e300, "after 9999-12-31 UTC"),
        (8.64e12, "after 9999-12-31 UTC"),
        (math.inf, "after 9999-12-31 UTC"),
        (-1e300, "before 0001-01-01 UTC"),
        (-math.inf, "before 0001-01-01 UTC"),
        (math.nan, "an unreadable time"),
        ("soon", "an unreadable time"),
    ],
)
def test_time_shown_on_pages_never_raises(ts: object, shown: str) -> None:
    assert when(ts) == shown


@pytest.mark.parametrize("deadline", [1e300, 8.64e12 + time.time(), -1e300])
def test_pages_answer_with_an_absurd_stored_deadline(
    http: FlaskClient, client: Client, workers: Workers, rconn: redis.Redis, deadline: float
) -> None:
    workers.start(1)
    run_id = waiting_run(client)
    steps_key = client.store.keys.steps(run_id)
    record = json.loads(rconn.lindex(steps_key, 0))  # type: ignore[arg-type]
    record["d"] = deadline  # models.STORED_KEYS: "d" is a wait's deadline
    rconn.lset(steps_key, 0, json.dumps(record))
    page = http.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert ("after 9999-12-31 UTC" if deadline > 0 else "before 0001-01-01 UTC") in page.get_data(as_text=True)
    assert http.get("/").status_code == 200
    assert http.get(f"/api/runs/{run_id}").status_code == 200


@pytest.mark.parametrize(
    ("workflow", "payload"),
    [("waiter", {"timeout": "99999999d"}), ("waiter", {"timeout": 1e300}), ("sleeper", {"seconds": "9" * 300 + "s"})],
)
def test_a_wait_or_sleep_past_the_limit_fails_its_run_at_once(
    http: FlaskClient, client: Client, workers: Workers, workflow: str, payload: dict[str, object]
) -> None:
    workers.start(1)
    wait_for_status(client, client.trigger("basic"), RunStatus.COMPLETED)  # the worker is up
    started = time.monotonic()
    run_id = client.trigger(workflow, payload)
    run = wait_for_status(client, run_id, RunStatus.FAILED, timeout=10)
    assert time.monotonic() - started < 1.5, "failed at once, not after retries (1 s, 2 s, 4 s)"
    assert "DurationTooLong" in (run.error or "") and "10 years" in (run.error or "")
    assert http.get(f"/runs/{run_id}").status_code == 200 and http.get("/").status_code == 200


def test_the_example_approval_with_an_absurd_timeout_fails_clearly(
    http: FlaskClient, client: Client, workers: Workers
) -> None:
    workers.start(1, extra_env={"HITL_APPROVAL_TIMEOUT": "99999999d"})
    run_id = client.trigger("human-in-loop", {"userId": "ada", "action": "deploy"})
    run = wait_for_status(client, run_id, RunStatus.FAILED, timeout=10)
    assert "longer than the limit of 10 years" in (run.error or "")
    assert http.get(f"/runs/{run_id}").status_code == 200 and http.get("/").status_code == 200


# -- item 11: no run id collides with a key of the engine --------------------------------------
ENGINE_NAMES = ["all", "rt", "run", "runs", "steps", "due", "waiters", "lookback", "approvers", "test", "hitlrun_1_x"]


def test_run_ids_named_like_engine_keys_work(
    http: FlaskClient, client: Client, workers: Workers, rconn: redis.Redis
) -> None:
    workers.start(1)
    realtime = Realtime(client.store.redis, client.settings.key_prefix)
    for name in ENGINE_NAMES:
        resp = http.post("/api/trigger", json={"workflowType": "waiter", "workflowRunId": name})
        assert resp.status_code == 200, (name, resp.get_json())
    for name in ENGINE_NAMES:
        wait_for_status(client, name, RunStatus.WAITING)
        assert http.get(f"/runs/{name}").status_code == 200, name
        assert http.get(f"/api/runs/{name}").status_code == 200, name
    assert http.get("/").status_code == 200
    for name in ENGINE_NAMES:
        assert http.post("/api/notify", json={"eventId": f"ev-{name}", "eventData": {"ok": name}}).status_code == 200
        run = wait_for_status(client, name, RunStatus.COMPLETED)
        assert run.result["event_data"] == {"ok": name}  # type: ignore[index]
    # The all-runs stream announced every run's events, and each run's own list holds its own.
    assert rconn.type(realtime.all_key) == "stream"
    announced = {fields["r"] for _, fields in rconn.xrange(realtime.all_key)}  # type: ignore[union-attr]
    assert set(ENGINE_NAMES) <= announced
    for name in ENGINE_NAMES:
        names = [event.name for _, event in realtime.channel(name).history()]
        assert names[0] == "workflow.runStart" and names[-1] == "workflow.runFinish", name


def test_the_old_layouts_stream_is_retired_when_the_web_starts(
    settings: Settings, client: Client, workers: Workers, rconn: redis.Redis, request: pytest.FixtureRequest
) -> None:
    old = f"{settings.key_prefix}:rt:all"  # where the all-runs stream was kept before
    rconn.xadd(old, {"r": "wfr_old", "e": "workflow.runStart"})
    app: Flask = request.getfixturevalue("app")  # made now: after the old stream
    assert not rconn.exists(old)
    workers.start(1)
    waiting_run(client, "all")
    assert app.test_client().get("/runs/all").status_code == 200
    assert rconn.type(client.store.keys.journal("all")) == "list"  # run "all"'s own events (<p>:rt:{all})


@pytest.mark.parametrize("path", ["/runs/all", "/runs/x:y", "/runs/" + "a" * 5000, "/runs/%ED%A0%80", "/runs/%00"])
def test_any_run_path_is_a_page_or_404(http: FlaskClient, path: str) -> None:
    assert http.get(path).status_code == 404
    assert http.get("/api" + path).status_code == 404


# -- item 12: text that UTF-8 cannot hold (a lone surrogate) is refused, not stored -----------
def test_a_decision_comment_that_is_not_unicode_is_refused(http: FlaskClient, client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = waiting_run(client)
    token = csrf_of(http, f"/runs/{run_id}")
    for comment in (b"%ED%A0%80", b"%FF", b"ok%C3"):
        body = b"decision=approve&comment=" + comment + b"&csrf_token=" + token.encode()
        resp = http.post(f"/runs/{run_id}/approvals/0", data=body, content_type="application/x-www-form-urlencoded")
        assert resp.status_code == 400, comment
        assert "not UTF-8 text" in resp.get_data(as_text=True)
    assert client.get_run(run_id).status is RunStatus.WAITING  # nothing stored
    assert http.get(f"/runs/{run_id}").status_code == 200
    # The same form in proper UTF-8 is taken.
    body = b"decision=approve&comment=%C3%A9t%C3%A9&csrf_token=" + token.encode()
    resp = http.post(f"/runs/{run_id}/approvals/0", data=body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 303
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.steps[0].receipt["comment"] == "été"  # type: ignore[index]
    assert http.get(f"/runs/{run_id}").status_code == 200


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"eventId": "ev-RUN", "eventData": {"approved": true, "note": "\\ud800"}}', "eventData.note"),
        ('{"eventId": "ev-RUN", "eventData": {"\\udfff": 1}}', "a key of eventData"),
        ('{"eventId": "ev-RUN", "eventData": ["a", ["\\ud800x"]]}', "eventData[1][0]"),
        ('{"eventId": "ev-RUN\\ud800", "eventData": {}}', "eventId"),
        ('{"eventId": "ev-RUN", "eventData": {}, "workflowRunId": "RUN\\ud800"}', "workflowRunId"),
    ],
)
def test_notify_refuses_lone_surrogates(
    http: FlaskClient, client: Client, workers: Workers, body: str, where: str
) -> None:
    workers.start(1)
    run_id = waiting_run(client)
    resp = http.post("/api/notify", data=body.replace("RUN", run_id), content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["success"] is False and where in resp.get_json()["error"]
    assert client.get_run(run_id).status is RunStatus.WAITING and client.get_waiters(f"ev-{run_id}")
    assert http.get(f"/runs/{run_id}").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        '{"workflowType": "waiter", "payload": {"note": "\\ud800"}}',
        '{"workflowType": "human-in-loop", "payload": {"userId": "\\ud800"}}',
        '{"workflowType": "waiter", "workflowRunId": "x\\ud800"}',
    ],
)
def test_trigger_refuses_lone_surrogates(http: FlaskClient, client: Client, body: str) -> None:
    resp = http.post("/api/trigger", data=body, content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["error"]
    assert client.list_runs() == []


# -- item 13: a chunked body over the limit is refused, as one with Content-Length is ----------
def chunked_post(web: WebServer, path: str, body: bytes) -> tuple[int, bytes]:
    """POST ``body`` with ``Transfer-Encoding: chunked`` (64 KB chunks) to the real gunicorn process."""

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    conn = httpc.HTTPConnection("127.0.0.1", web.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        conn.request("POST", path, body=chunks(), headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_chunked_body_over_1_mb_is_refused(web: WebServer, client: Client) -> None:
    limit = 1024 * 1024
    # Valid JSON within its first megabyte: cut there, it used to start a run.
    head = b'{"workflowType": "basic"}'
    status, answer = chunked_post(web, "/api/trigger", head + b" " * (limit + 100 - len(head)))
    assert status == 413 and json.loads(answer)["success"] is False
    assert client.list_runs() == []
    status, answer = chunked_post(web, "/api/trigger", head + b" " * (2 * limit))
    assert status == 413 and client.list_runs() == []
    # Up to the limit, chunked bodies are read whole.
    status, answer = chunked_post(web, "/api/trigger", head + b" " * (limit - len(head)))
    assert status == 200
    run_id = json.loads(answer)["workflowRunId"]
    status, answer = chunked_post(web, "/api/trigger", b'{"workflowType": "basic", "payload": {"message": "hi"}}')
    assert status == 200
    for rid in (run_id, json.loads(answer)["workflowRunId"]):
        wait_for_status(client, rid, RunStatus.COMPLETED)
    assert len(client.list_runs()) == 2
    wait_until(lambda: client.get_run(run_id).result)


def test_a_lone_surrogate_stored_by_library_code_still_renders(app: Flask, client: Client, workers: Workers) -> None:
    # Forms and the API refuse it; library code (a plain notify, a step's result) can still store one.
    workers.start(1)
    run_id = client.trigger("human-in-loop", {"userId": "u", "action": "a"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    assert client.notify(f"approval-{run_id}", {"note": "bad \ud800 text"})
    wait_for_status(client, run_id, RunStatus.COMPLETED)
    for path in (f"/runs/{run_id}", "/"):
        resp = app.test_client().get(path)
        assert resp.status_code == 200, path
    assert "bad \ufffd text" in app.test_client().get(f"/runs/{run_id}").get_data(as_text=True)
