"""Browsing runs with a cursor: every run exactly once while runs are added, filters, and bulk cancel."""

from __future__ import annotations

import threading
import time

import pytest

from hitl_web.engine import Client, RunStatus
from hitl_web.engine.run_pages import InvalidCursor, RunFilter
from tests.conftest import Workers, wait_until


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
