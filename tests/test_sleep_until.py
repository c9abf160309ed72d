"""context.sleep_until: a run sleeps to a point in time, holding no worker; context.cancel ends a run from inside."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from hitl_web.engine import Client, RunStatus
from hitl_web.engine.durations import instant
from hitl_web.engine.errors import DurationTooLong, InvalidDuration
from hitl_web.live.channel import Realtime
from tests.conftest import Workers, wait_for_status, wait_until

from .flows import conn


def test_a_run_sleeps_until_an_aware_time_and_a_past_time_passes_at_once(client: Client, workers: Workers) -> None:
    workers.start(1)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    later = client.trigger("wake-at", {"at": at.isoformat()})
    past = client.trigger("wake-at", {"at": time.time() - 3600})  # Unix seconds, an hour ago
    naive = client.trigger("wake-at", {"at": "2030-01-01T09:00:00"})
    sleeping = wait_until(lambda: (r := client.get_run(later)).steps and r)
    assert sleeping.status is RunStatus.RUNNING and sleeping.steps[0].status.value == "sleeping"  # type: ignore[union-attr]
    assert sleeping.steps[0].deadline == pytest.approx(at.timestamp(), abs=0.01)
    done = wait_for_status(client, later, RunStatus.COMPLETED, RunStatus.FAILED)
    assert done.status is RunStatus.COMPLETED and done.result >= at.timestamp()
    quick = wait_for_status(client, past, RunStatus.COMPLETED, RunStatus.FAILED)
    assert quick.status is RunStatus.COMPLETED and quick.steps[0].status.value == "completed"
    refused = wait_for_status(client, naive, RunStatus.COMPLETED, RunStatus.FAILED)
    assert refused.status is RunStatus.FAILED and "has no time zone" in (refused.error or "")


def test_instants_are_read_strictly() -> None:
    assert instant("2027-01-31T09:00:00+00:00") == datetime(2027, 1, 31, 9, tzinfo=UTC).timestamp()
    assert instant(1_800_000_000) == 1_800_000_000.0
    for bad in ["tomorrow", True, float("nan"), datetime(2027, 1, 1)]:
        with pytest.raises(InvalidDuration):
            instant(bad)  # type: ignore[arg-type]
    with pytest.raises(DurationTooLong):
        instant(time.time() + 11 * 366 * 86400)


def test_a_run_cancels_itself_and_says_so_in_its_journal(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = client.trigger("self-cancelling")
    run = wait_for_status(client, run_id, RunStatus.CANCELLED, RunStatus.COMPLETED, RunStatus.FAILED)
    assert run.status is RunStatus.CANCELLED and [s.name for s in run.steps] == ["first"]
    assert int(conn().get(f"{client.settings.key_prefix}:test:count:{run_id}:never") or 0) == 0
    channel = Realtime(conn(), client.settings.key_prefix).channel(run_id)
    finish = {"name": "workflow.runFinish", "status": "cancelled"}
    wait_until(lambda: any({"name": e.name, "status": e.data.get("status")} == finish for _, e in channel.history()))
    assert run_id in {r.run_id for r in client.browse_runs().runs}
