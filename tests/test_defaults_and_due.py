"""An ask's default outcome when nobody decides in time, and its due date apart from its deadline (issue 16)."""

from __future__ import annotations

import time
from typing import Any

from hitl_web.engine import Client, RunStatus, StepStatus
from hitl_web.settings import Settings
from tests.conftest import Workers, signed_in, wait_for_status
from tests.test_inbox import production


def ask(client: Client, payload: dict[str, Any]) -> str:
    run_id = client.trigger("defaulting-ask", payload)
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def test_an_ask_nobody_decides_in_time_takes_its_default_decided_by_the_system(
    workers: Workers, client: Client, settings: Settings
) -> None:
    workers.start(1)
    run_id = ask(client, {"timeout": "1s", "on_timeout": "reject"})
    done = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=15)
    assert done.result == {"decision": {"approved": False}, "timeout": False, "defaulted": True, "option": None,
                           "values": None}  # fmt: skip
    step = done.steps[0]
    assert step.status is StepStatus.COMPLETED and step.receipt["by"] == "system" and step.receipt["via"] == "timeout"
    assert client.inbox.count("alice") == 0
    page = signed_in(production(settings, client), "alice").get(f"/runs/{run_id}").get_data(as_text=True)
    assert "rejected</strong> by system" in page


def test_a_typed_default_is_checked_and_decided_with_the_proposed_values(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = ask(client, {"timeout": "1s", "on_timeout": "approve", "typed": True})
    done = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=15)
    assert done.result["defaulted"] is True and done.result["option"] == "approve"
    assert done.result["values"]["amount"] == "12.50" and done.result["values"]["method"] == "original payment"


def test_a_default_that_is_no_decision_fails_the_run_before_the_ask_opens(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("defaulting-ask", {"on_timeout": "maybe"})
    done = wait_for_status(client, run_id, RunStatus.FAILED)
    assert "on_timeout of an ask without a form is 'approve' or 'reject'" in (done.error or "")
    assert done.steps == []


def test_a_decision_in_time_is_the_decision_the_default_is_not_used(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = ask(client, {"timeout": "1h", "on_timeout": "reject"})
    assert client.notify(f"default-{run_id}", {"approved": True}, run_id)
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result["decision"] == {"approved": True} and done.result["defaulted"] is False


def test_the_inbox_sorts_and_marks_asks_by_their_due_date(workers: Workers, client: Client, settings: Settings) -> None:
    workers.start(1)
    later_deadline = ask(client, {"timeout": "2d", "due": "1h"})  # due first, though it expires last
    sooner_deadline = ask(client, {"timeout": "3h"})
    overdue = ask(client, {"timeout": "1h", "due": "1s"})
    time.sleep(1.2)
    assert [a.run_id for a in client.inbox.asks("alice")] == [overdue, later_deadline, sooner_deadline]
    page = signed_in(production(settings, client), "alice").get("/inbox").get_data(as_text=True)
    assert page.index(overdue) < page.index(later_deadline) < page.index(sooner_deadline)
    assert "due overdue by" in page and "due in 59 min" in page and ">in 2 h 59 min<" in page
    step = client.get_run(later_deadline).steps[0]
    assert step.due is not None and step.deadline is not None and step.due < step.deadline


def test_an_ask_due_after_its_deadline_is_refused(workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = client.trigger("defaulting-ask", {"timeout": "1h", "due": "2h"})
    assert "never due" in (wait_for_status(client, run_id, RunStatus.FAILED).error or "")
