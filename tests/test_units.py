"""Durations, payloads, run ids and client errors: the parts that need no worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from hitl_web.engine import (
    Client,
    InvalidDuration,
    InvalidEventData,
    InvalidPayload,
    InvalidRunId,
    RunExists,
    RunNotFound,
    RunStatus,
    UnknownWorkflow,
    WorkflowMiddleware,
    parse_duration,
)
from hitl_web.engine.models import Step, StepStatus, StepType


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("7d", 604800),
        ("1h30m", 5400),
        ("250ms", 0.25),
        (12, 12),
        (0.5, 0.5),
        (timedelta(minutes=2), 120),
        (" 5m ", 300),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "5", "5x", "m5", "-5s", "1.5.2m", -1, float("nan"), float("inf"), True, None])
def test_malformed_durations_are_clear_errors(value: object) -> None:
    with pytest.raises(InvalidDuration, match="invalid duration"):
        parse_duration(value)  # type: ignore[arg-type]


def test_invalid_payload_is_refused_at_trigger_with_pydantic_message(client: Client, redis_server: object) -> None:
    with pytest.raises(InvalidPayload, match=r"human-in-loop.*userId"):
        client.trigger("human-in-loop", {"userId": ["not", "a", "string"]})
    assert client.list_runs() == []


def test_unknown_workflow_names_the_known_ones(client: Client) -> None:
    with pytest.raises(UnknownWorkflow, match="basic"):
        client.trigger("nope")


def test_run_ids(client: Client) -> None:
    run_id = client.trigger("basic")
    assert run_id.startswith("wfr_") and len(run_id) >= 24
    assert client.trigger("basic", workflow_run_id="my-run-1") == "my-run-1"
    with pytest.raises(RunExists):
        client.trigger("basic", workflow_run_id="my-run-1")
    with pytest.raises(InvalidRunId):
        client.trigger("basic", workflow_run_id="../etc/passwd")


def test_event_data_must_be_json(client: Client, rconn: redis.Redis) -> None:
    with pytest.raises(InvalidEventData):
        client.notify("ev", {"x": {1, 2}})
    with pytest.raises(InvalidEventData):
        client.notify("ev", float("nan"))
    with pytest.raises(ValueError, match="event_id"):
        client.notify("", {})


def test_unknown_run(client: Client) -> None:
    with pytest.raises(RunNotFound):
        client.get_run("wfr_missing")
    with pytest.raises(RunNotFound):
        client.cancel_run("wfr_missing")


def test_cancel_run_that_never_started(client: Client) -> None:
    run_id = client.trigger("basic")
    assert client.cancel_run(run_id) is RunStatus.CANCELLED
    assert client.get_run(run_id).status is RunStatus.CANCELLED


def test_middleware_refuses_unknown_callbacks() -> None:
    with pytest.raises(ValueError, match="unknown middleware callbacks"):
        WorkflowMiddleware("x", {"beforeExecution": lambda **_: None})


def test_step_records_are_stored_compactly_and_read_back_whole() -> None:
    """A stored step uses short keys, omits defaults, keeps times to the ms; the long-keyed form still reads."""
    wait = Step(
        name="approve",
        type=StepType.WAIT,
        status=StepStatus.COMPLETED,
        started_at=1795544417.7756956,
        finished_at=1795544418.1234567,
        result={"event_data": {"approved": True}, "timeout": False},
        event_id="approval-x",
        deadline=1795544717.5,
        message='Approve "ship"?',
        approvers=["ada"],
        receipt={"by": "ada", "at": 1795544418.12},
        attempts=1,
    )
    stored = wait.to_json()
    assert '"name"' not in stored and '"started_at"' not in stored
    back = Step.from_json(stored)
    assert back == Step(**{**wait.__dict__, "started_at": 1795544417.776, "finished_at": 1795544418.123})

    plain = Step(name="work", type=StepType.RUN, status=StepStatus.RUNNING, started_at=1.0)
    assert plain.to_json() == '{"n":"work","s":"running","a":1.0}'
    assert Step.from_json(plain.to_json()) == plain
    legacy = '{"name":"work","type":"run","status":"completed","started_at":1.5,"result":[1],"attempts":2}'
    assert Step.from_json(legacy) == Step("work", StepType.RUN, StepStatus.COMPLETED, 1.5, result=[1], attempts=2)


def test_a_receipt_reads_back_what_any_caller_gave_and_stamps_only_once() -> None:
    from hitl_web.engine import Receipt

    given = Receipt.of({"by": "ada", "via": "api", "ticket": "OPS-7"})
    assert given is not None and given.by == "ada" and given.extra == {"ticket": "OPS-7"}
    stamped = given.stamped(100.0).proposing({"amount": "5"})
    assert stamped.stamped(200.0).at == 100.0  # a time already set stays
    stored = stamped.to_dict()
    assert stored == {"by": "ada", "at": 100.0, "via": "api", "decision": None, "comment": None, "ip": None,
                      "proposed": {"amount": "5"}, "ticket": "OPS-7"}  # fmt: skip
    assert Receipt.of(stored) == stamped  # the stored form reads back as the same receipt
    assert stamped.answering("abc").vote(False) == {**stored, "prompt_sha256": "abc", "approve": False}
    assert Receipt.of(None) is None and Receipt.of(stamped) is stamped
