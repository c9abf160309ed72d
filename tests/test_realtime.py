"""The runs' journals: the event schema, bounded lists, history, and resuming from a stream id."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from hitl_web.engine import Client, RunStatus, StepStatus
from hitl_web.engine.journal import Journal, JournalBounds
from hitl_web.live import SCHEMA, InvalidEvent, Realtime
from hitl_web.live.hub import Hub
from tests.conftest import Workers, wait_for_status, wait_until


@pytest.fixture
def realtime(client: Client) -> Realtime:
    return Realtime(client.store.redis, client.settings.key_prefix)


@pytest.fixture
def journal(client: Client) -> Journal:
    return Journal(client.store.redis, client.settings.key_prefix, JournalBounds(max_len=50, ttl_seconds=60))


def test_schema_has_the_guides_events() -> None:
    # The guide's seven, and ours: a warning that changed nothing (a refused lookback decision), and
    # a vote counted on a quorum ask that stays open, an ask reassigned, an ask of several answered,
    # a failed run resumed from the dead-letter list.
    ours = {"workflow.warning", "workflow.voteCast", "workflow.reassigned", "workflow.askAnswered", "workflow.reminded",
            "workflow.runResumed"}  # fmt: skip
    assert set(SCHEMA) - ours == {
        "workflow.runStart",
        "workflow.stepStart",
        "workflow.stepFinish",
        "workflow.stepFail",
        "workflow.waitingForInput",
        "workflow.inputResolved",
        "workflow.runFinish",
    }


def test_emit_validates_name_and_shape(realtime: Realtime, journal: Journal) -> None:
    channel = realtime.channel("wfr_x")
    with pytest.raises(InvalidEvent, match=r"unknown event 'workflow\.nope'"):
        journal.append(channel.run_id, "workflow.nope", {})
    with pytest.raises(InvalidEvent, match="eventId: Field required"):
        journal.append(channel.run_id, "workflow.waitingForInput", {"message": "hi"})
    with pytest.raises(InvalidEvent, match="status"):
        journal.append(channel.run_id, "workflow.runFinish", {"status": "exploded"})
    with pytest.raises(InvalidEvent, match="Extra inputs"):
        journal.append(channel.run_id, "workflow.stepFinish", {"stepName": "a", "surprise": 1})
    assert channel.history() == []  # nothing invalid was stored


def test_every_event_carries_run_id_and_time(realtime: Realtime, journal: Journal) -> None:
    channel = realtime.channel("wfr_y")
    journal.append(channel.run_id, "workflow.stepFinish", {"stepName": "a", "index": 0, "result": {"n": 1}})
    ((_, event),) = channel.history()
    assert event.name == "workflow.stepFinish" and event.runId == "wfr_y" and event.ts > 0
    assert event.data == {"stepName": "a", "index": 0, "result": {"n": 1}}


def test_events_are_stored_compactly_and_read_back_whole(
    realtime: Realtime, journal: Journal, rconn: redis.Redis
) -> None:
    """Stored: short name, ms offset, field values with trailing defaults left out; read: the whole event."""
    channel = realtime.channel("wfr_c")
    before = time.time()
    journal.append(channel.run_id, "workflow.stepStart", {"stepName": "a", "index": 0})  # type defaults to "run"
    journal.append(
        channel.run_id, "workflow.waitingForInput", {"eventId": "e-1", "message": 'Say "yes" <b>', "index": 1}
    )
    journal.append(channel.run_id, "workflow.stepFinish", {"stepName": "b c", "index": 2, "result": {"k": [1, None]}})
    after = time.time()
    stored = [raw.split(" ", 1)[1] for raw in rconn.lrange(channel.key, 0, -1)]
    assert stored[0].startswith("stepStart ") and stored[0].endswith(' ["a",0]')
    assert stored[1].endswith(' ["e-1","Say \\"yes\\" <b>","",1]')
    events = [event for _, event in channel.history()]
    assert [e.data for e in events] == [
        {"stepName": "a", "index": 0, "type": "run"},
        {"eventId": "e-1", "message": 'Say "yes" <b>', "stepName": "", "index": 1, "deadline": None},
        {"stepName": "b c", "index": 2, "result": {"k": [1, None]}},
    ]
    assert all(before - 0.001 <= e.ts <= after + 0.001 for e in events)


def test_channel_is_bounded_and_expires(realtime: Realtime, journal: Journal, rconn: redis.Redis) -> None:
    channel = realtime.channel("wfr_z")
    journal.append(channel.run_id, "workflow.runStart", {"workflow": "basic"})
    for i in range(500):
        journal.append(channel.run_id, "workflow.stepStart", {"stepName": f"s{i}", "index": i})
    assert rconn.llen(channel.key) == 50
    assert rconn.ttl(channel.key) == -1  # a live run's events do not expire
    history = channel.history()
    assert [e.data["stepName"] for _, e in history] == [f"s{i}" for i in range(450, 500)]
    journal.append(channel.run_id, "workflow.runFinish", {"status": "success"})
    assert 0 < rconn.ttl(channel.key) <= 60  # a finished run's do, as its steps do


def test_history_resumes_after_a_stream_id(realtime: Realtime, journal: Journal) -> None:
    channel = realtime.channel("wfr_h")
    ids = [journal.append(channel.run_id, "workflow.stepStart", {"stepName": f"s{i}", "index": i}) for i in range(5)]
    assert [i for i, _ in channel.history(after=ids[1])] == ids[2:]
    assert channel.history(after=ids[-1]) == []
    assert channel.last_id() == ids[-1]
    # The ids are those of the all-runs stream, which every web process's hub follows.
    got = realtime.read({realtime.all_key: ids[2]}, block_ms=10)[realtime.all_key]
    assert [i for i, _ in got] == ids[3:]
    assert all(fields == {"r": "wfr_h", "e": "workflow.stepStart"} for _, fields in got)


def finished_history(realtime: Realtime, run_id: str) -> list[tuple[str, dict]]:
    """The run's events once its last one (written in the background by the worker) is there."""
    channel = realtime.channel(run_id)
    wait_until(lambda: any(e.name == "workflow.runFinish" for _, e in channel.history()))
    return [(e.name, e.data) for _, e in channel.history()]


def test_middleware_emits_the_guides_timeline(client: Client, workers: Workers, realtime: Realtime) -> None:
    workers.start(1)
    run_id = client.trigger("human-in-loop", {"userId": "ada", "action": "ship"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    client.notify(f"approval-{run_id}", {"approved": True}, receipt={"by": "grace"})
    wait_for_status(client, run_id, RunStatus.COMPLETED)
    events = finished_history(realtime, run_id)
    assert [name for name, _ in events] == [
        "workflow.runStart",
        "workflow.stepStart",
        "workflow.stepFinish",
        "workflow.waitingForInput",  # a wait's start
        "workflow.inputResolved",
        "workflow.stepFinish",
        "workflow.stepStart",
        "workflow.stepFinish",
        "workflow.stepStart",
        "workflow.stepFinish",
        "workflow.runFinish",
    ]
    waiting = events[3][1]
    assert waiting["eventId"] == f"approval-{run_id}" and waiting["message"] == 'Approve "ship" for ada?'
    assert waiting["stepName"] == "wait-for-approval" and waiting["index"] == 1
    resolved = events[4][1]
    assert resolved["decision"] == {"approved": True} and resolved["decidedBy"] == "grace"
    assert resolved["timeout"] is False
    assert events[-1][1] == {"status": "success", "error": None}
    assert realtime.redis.ttl(realtime.events_key(run_id)) > 0  # they expire with the finished run


def test_failed_run_emits_step_fail_and_run_finish(client: Client, workers: Workers, realtime: Realtime) -> None:
    workers.start(1)
    run_id = client.trigger("flaky")
    wait_for_status(client, run_id, RunStatus.FAILED)
    events = finished_history(realtime, run_id)
    fails = [d for n, d in events if n == "workflow.stepFail"]
    assert [f["final"] for f in fails] == [False, False, True]
    assert events[-1][0] == "workflow.runFinish" and events[-1][1]["status"] == "failed"


def test_cancel_tells_live_pages(client: Client, workers: Workers, realtime: Realtime) -> None:
    workers.start(1)
    run_id = client.trigger("human-in-loop")
    channel = realtime.channel(run_id)
    # The worker writes its events in the background: let them land first.
    wait_until(lambda: any(e.name == "workflow.waitingForInput" for _, e in channel.history()))
    client.cancel_run(run_id)
    last = channel.history()[-1][1]
    assert last.name == "workflow.runFinish" and last.data == {"status": "cancelled", "error": None}
    client.cancel_run(run_id)  # cancelling again announces nothing new
    assert realtime.channel(run_id).history()[-1][1] == last


def test_a_long_steps_start_is_announced_while_it_runs(client: Client, workers: Workers, realtime: Realtime) -> None:
    """A worker's events go out with its next write, or within milliseconds when none comes (a long step)."""
    workers.start(1)
    run_id = client.trigger("waiter", {"hold": 4})
    wait_until(lambda: client.get_run(run_id).steps, timeout=30)  # the hold step started
    channel = realtime.channel(run_id)
    wait_until(lambda: any(e.name == "workflow.stepStart" for _, e in channel.history()), timeout=1.0)
    hold = client.get_run(run_id).steps[0]
    assert hold.name == "hold" and hold.status is StepStatus.RUNNING  # announced while it still runs


def test_the_hub_renders_once_per_audience_and_batch(realtime: Realtime, journal: Journal) -> None:
    """Four sockets on one run, of two audiences (alice's two tabs, two visitors): two renders, four pushes."""
    renders: list[str] = []
    hub = Hub(realtime, block_ms=200)

    def render_for(audience: str) -> Callable[[Any], str]:
        return lambda reader: renders.append(audience) or f"<p>{audience}</p>"

    subs = [hub.subscribe("run-a", render_for(a), a) for a in ("alice", "alice", "", "")]
    try:
        journal.append("run-a", "workflow.warning", {"message": "one"})
        pushes = [sub.get(5) for sub in subs]
        assert [p[1] for p in pushes] == ["<p>alice</p>", "<p>alice</p>", "<p></p>", "<p></p>"]  # type: ignore[index]
        assert sorted(renders) == ["", "alice"]
    finally:
        for sub in subs:
            sub.close()
        hub.close()
