"""Browsing runs with a cursor: every run exactly once while runs are added, filters, and bulk cancel."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from flask import Flask

from hitl_web.engine import Client, RunStatus
from hitl_web.engine.run_pages import InvalidCursor, RunFilter
from tests.conftest import ROOT, Workers, wait_for_status, wait_until, worker_env


def walk(client: Client, where: RunFilter, limit: int) -> list[str]:
    """Every run id the pages of ``where`` hold, page after page, in order."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = client.browse_runs(where, cursor, limit=limit)
        assert len(page.runs) <= limit
        seen.extend(run.run_id for run in page.runs)
        if page.cursor is None:
            return seen
        cursor = page.cursor


def test_pages_hold_every_run_exactly_once_while_runs_are_added(client: Client) -> None:
    before = [client.trigger("basic") for _ in range(300)]  # no worker: they stay queued, running
    adding = threading.Event()

    def add() -> None:
        while not adding.is_set():
            client.trigger("basic")
            time.sleep(0.001)

    adder = threading.Thread(target=add)
    adder.start()
    try:
        seen = walk(client, RunFilter(), limit=17)
    finally:
        adding.set()
        adder.join()
    assert len(seen) == len(set(seen)), "a run repeated across pages"
    assert set(before) <= set(seen), "a run missing from the pages"
    created = [client.get_run(run_id).created_at for run_id in seen]
    assert created == sorted(created, reverse=True)  # newest first


def test_filters_by_status_workflow_and_time(client: Client, workers: Workers) -> None:
    early = [client.trigger("basic") for _ in range(5)]
    time.sleep(0.05)
    middle = time.time()
    time.sleep(0.05)  # runs' times are kept to the millisecond: keep them clear of the bound
    waiting = [client.trigger("counted") for _ in range(6)]
    late = [client.trigger("basic") for _ in range(4)]
    workers.start(1)
    wait_until(lambda: client.get_run(waiting[-1]).status is RunStatus.WAITING)
    wait_until(lambda: client.get_run(late[-1]).status is RunStatus.COMPLETED)
    assert walk(client, RunFilter(status=RunStatus.WAITING), limit=4) == sorted(
        waiting, key=lambda r: (client.get_run(r).waits[0].deadline, r)
    )  # soonest deadline first
    assert set(walk(client, RunFilter(workflow="basic"), limit=3)) == set(early + late)
    assert set(walk(client, RunFilter(workflow="basic", since=middle), limit=3)) == set(late)
    assert set(walk(client, RunFilter(until=middle), limit=2)) == set(early)
    assert set(walk(client, RunFilter(RunStatus.COMPLETED, workflow="basic", since=middle), limit=2)) == set(late)
    assert walk(client, RunFilter(workflow="no-such-workflow"), limit=5) == []
    either = RunFilter(any_of=(RunStatus.WAITING, RunStatus.FAILED))  # the index walked, statuses read
    assert set(walk(client, either, limit=3)) == set(waiting)
    with pytest.raises(InvalidCursor):
        client.browse_runs(RunFilter(), "not-a-cursor", limit=5)


def test_a_filter_that_matches_little_answers_short_pages_and_still_reaches_the_end(client: Client) -> None:
    for _ in range(60):
        client.trigger("basic")
    wanted = client.trigger("counted")
    for _ in range(60):
        client.trigger("basic")
    pages, cursor, found = 0, None, []
    while True:
        page = client.store.browse(RunFilter(workflow="counted"), cursor, limit=5, budget=10)
        pages += 1
        found.extend(r.run_id for r in page.runs)
        if page.cursor is None:
            break
        cursor = page.cursor
    assert found == [wanted] and pages >= 12  # each page examined at most 10 of the 121 runs


def test_bulk_cancel_cancels_exactly_the_runs_the_filter_names(client: Client, workers: Workers) -> None:
    targets = [client.trigger("counted") for _ in range(1000)]
    others = [client.trigger("waiter", {"event_id": f"keep-{i}"}) for i in range(50)]
    workers.start(2)
    for run_id in (targets[-1], others[-1]):
        wait_until(lambda r=run_id: client.get_run(r).status is RunStatus.WAITING, timeout=60)
    wait_until(lambda: len(walk(client, RunFilter(RunStatus.WAITING), limit=200)) == 1050, timeout=60)
    assert client.cancel(workflow="counted", status="waiting") == 1000
    assert all(client.get_run(r).status is RunStatus.CANCELLED for r in targets)
    assert all(client.get_run(r).status is RunStatus.WAITING for r in others)
    assert client.cancel(workflow="counted", status="waiting") == 0  # nothing left to cancel
    assert client.cancel(ids=[others[0], others[0], "wfr_unknown", targets[0]]) == 1
    assert client.get_run(others[0]).status is RunStatus.CANCELLED
    with pytest.raises(ValueError):
        client.cancel()


def test_the_runs_page_and_api_filter_and_page_alike(app: Flask, client: Client, workers: Workers) -> None:
    basic = [client.trigger("basic") for _ in range(7)]
    waiting = client.trigger("waiter", {"event_id": "find-me"})
    workers.start(1)
    wait_until(lambda: client.get_run(waiting).status is RunStatus.WAITING)
    http = app.test_client()

    seen, cursor = [], None
    while True:
        answer = http.get(
            "/api/runs", query_string={"workflow": "basic", "limit": 3, **({"cursor": cursor} if cursor else {})}
        )
        assert answer.status_code == 200
        seen.extend(r["workflowRunId"] for r in answer.json["runs"])
        if not (cursor := answer.json["cursor"]):
            break
    assert sorted(seen) == sorted(basic)
    assert [r["workflowRunId"] for r in http.get("/api/runs?q=find-me").json["runs"]] == [waiting]  # an event id
    assert [r["workflowRunId"] for r in http.get(f"/api/runs?q={basic[0]}").json["runs"]] == [basic[0]]  # a run id
    [waiter] = http.get("/api/waiters/find-me").json["waiters"]
    assert waiter["workflowRunId"] == waiting and waiter["stepName"] == "wait" and waiter["timeout"]["timeout"] is True
    assert http.get("/api/waiters/nobody").json == {"waiters": []}
    for bad in ("status=lost", "limit=0", "limit=x", "cursor=%%%", "since=yesterday"):
        refused = http.get(f"/api/runs?{bad}")
        assert refused.status_code == 400 and refused.json["error"], bad

    page = http.get("/runs?workflow=basic&limit=5")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and sum(run_id in html for run_id in basic) == 5 and 'rel="next"' in html
    following = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    rest = http.get(following).get_data(as_text=True)
    assert sum(run_id in rest for run_id in basic) == 2 and 'rel="next"' not in rest
    assert waiting in http.get("/runs?status=waiting").get_data(as_text=True)
    problem = http.get("/runs?since=not-a-time")
    assert problem.status_code == 400 and "since must be epoch seconds or an ISO 8601 time" in problem.get_data(
        as_text=True
    )
    assert basic[0] in http.get("/runs?until=2999-01-01T00:00").get_data(as_text=True)


def test_bulk_cancel_from_the_command_line(client: Client, workers: Workers) -> None:
    targets = [client.trigger("counted") for _ in range(5)]
    other = client.trigger("waiter")
    workers.start(1)
    for run_id in [*targets, other]:
        wait_for_status(client, run_id, RunStatus.WAITING)
    command = [sys.executable, "-m", "hitl_web.cli", "cancel", "--workflow", "counted", "--status", "waiting"]
    done = subprocess.run(
        command, env=worker_env(client.settings), capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0 and json.loads(done.stdout) == {"cancelled": 5}, done.stderr
    assert client.get_run(other).status is RunStatus.WAITING
    both = subprocess.run([*command[:4], "x", "--workflow", "counted"], env=worker_env(client.settings),
                          capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr
