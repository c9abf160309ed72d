"""Typed decisions: a wait's form (a pydantic model) and options, validated on every entry point (issue 15)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hitl_web.engine import Client, InvalidDecision, RunStatus, Step, StepStatus, StepType
from hitl_web.engine.forms import OPTIONS_ONLY, changes, decision_data, form_model, form_path, normalize_options
from hitl_web.examples.refund import REVIEW_STEP, RefundDecision, refund_event_id
from hitl_web.live import Realtime
from tests.conftest import ROOT, Workers, csrf, wait_for_status, wait_until, worker_env

OPTIONS = "approve, reject, request-changes"


def start_refund(client: Client, amount: str = "120.00") -> str:
    run_id = client.trigger("refund-review", {"customer": "ada", "amount": amount, "reason": "late"})
    run = wait_for_status(client, run_id, RunStatus.WAITING)
    assert run.steps[0].name == REVIEW_STEP and run.steps[0].form == form_path(RefundDecision)
    return run_id


def unchanged(client: Client, run_id: str) -> None:
    """Nothing of a refused decision was stored: the run still waits, with no receipt and no result."""
    run = client.get_run(run_id)
    assert run.status is RunStatus.WAITING and run.steps[0].status is StepStatus.WAITING
    assert run.steps[0].receipt is None and run.steps[0].result is None
    assert [w.run_id for w in client.get_waiters(refund_event_id(run_id))] == [run_id]


def post_decision(http: FlaskClient, run_id: str, fields: dict[str, str], htmx: bool = False) -> Any:
    token = csrf(http, f"/runs/{run_id}")
    headers = {"HX-Request": "true"} if htmx else {}
    return http.post(f"/runs/{run_id}/approvals/0", data={"csrf_token": token, **fields}, headers=headers)


def test_the_form_is_rendered_from_the_model_and_prefilled_from_initial(
    app: Flask, workers: Workers, client: Client
) -> None:
    workers.start(1)
    run_id = start_refund(client)
    page = app.test_client().get(f"/runs/{run_id}").get_data(as_text=True)
    amount = re.search(r'<input type="number" id="approval-0-amount" name="v\.amount"[^>]*>', page)
    assert amount is not None, page
    for attr in ('value="120.00"', 'max="1000"', 'step="any"', "required"):
        assert attr in amount.group(0), amount.group(0)
    assert "at most 1,000 without a second review" in page  # the field's description is its help text
    assert '<option value="store credit">store credit</option>' in page
    assert 'type="checkbox" id="approval-0-notify_customer" name="v.notify_customer" value="true" checked' in page
    assert 'name="v.note"' in page and 'maxlength="280"' in page
    buttons = re.findall(r'<button type="submit" name="decision" value="([^"]+)"[^>]*>([^<]+)</button>', page)
    assert buttons == [("approve", "Approve"), ("reject", "Reject"), ("request-changes", "Request changes")]


@pytest.mark.parametrize("htmx", [False, True])
def test_an_invalid_form_decides_nothing_and_says_why_beside_the_field(
    app: Flask, workers: Workers, client: Client, htmx: bool
) -> None:
    workers.start(1)
    run_id = start_refund(client)
    http = app.test_client()
    resp = post_decision(http, run_id, {"decision": "approve", "v.amount": "5000", "comment": "keep me"}, htmx)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="approval-0-amount-error" role="alert">([^<]+)</p>', page)
    assert error is not None and error.group(1) == "Input should be less than or equal to 1000", page
    typed = re.search(r'<input [^>]*name="v\.amount"[^>]*>', page)
    assert typed is not None and 'value="5000"' in typed.group(0) and 'aria-invalid="true"' in typed.group(0)
    assert 'value="keep me"' in page  # and the comment too
    assert ("<html" in page) is not htmx  # a whole page without JavaScript, the prompt alone with htmx
    unchanged(client, run_id)
    # An option the ask does not have, and a value that is no number: refused the same way.
    assert post_decision(http, run_id, {"decision": "maybe", "v.amount": "10"}, htmx).status_code == 400
    resp = post_decision(http, run_id, {"decision": "approve", "v.amount": "lots"}, htmx)
    assert resp.status_code == 400 and "Input should be a valid decimal" in resp.get_data(as_text=True)
    unchanged(client, run_id)


def test_an_edited_amount_reaches_the_workflow_and_the_receipt_keeps_both(
    app: Flask, workers: Workers, client: Client
) -> None:
    workers.start(1)
    run_id = start_refund(client)
    http = app.test_client()
    fields = {"decision": "approve", "v.amount": "80.5", "v.method": "store credit", "v.note": "sorry!"}
    resp = post_decision(http, run_id, fields)  # notify_customer unchecked: False
    assert resp.status_code == 303
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result == {"success": True, "approved": True, "option": "approve", "amount": "80.5",
                          "requested": "120.00"}  # fmt: skip
    assert [s.name for s in run.steps] == [REVIEW_STEP, "issue-refund"]
    assert run.steps[1].result == {"refunded": "80.5", "method": "store credit"}
    decided = {"amount": "80.5", "method": "store credit", "notify_customer": False, "note": "sorry!"}
    event_data = {"option": "approve", "approved": True, "values": decided}
    assert run.steps[0].result == {"event_data": event_data, "timeout": False}
    receipt = run.steps[0].receipt or {}
    assert receipt["proposed"] == {"amount": "120.00"} and receipt["decision"] == {"option": "approve", "values": {
        "amount": "80.5", "method": "store credit", "notify_customer": False, "note": "sorry!"}}  # fmt: skip
    page = http.get(f"/runs/{run_id}").get_data(as_text=True)
    assert '<p class="changes" data-testid="changes">' in page
    assert '<span class="change">amount &#34;120.00&#34; → &#34;80.5&#34;</span>' in page
    assert "<strong>Approve</strong> by" in page


def test_the_api_answers_400_with_the_field_errors_and_changes_nothing(
    app: Flask, workers: Workers, client: Client
) -> None:
    workers.start(1)
    run_id = start_refund(client)
    http, event = app.test_client(), refund_event_id(run_id)
    cases: list[tuple[Any, dict[str, str]]] = [
        ({"approved": True}, {"amount": "Field required"}),  # the guide's data: option approve, but no amount
        ({"option": "approve", "values": {"amount": 0}}, {"amount": "Input should be greater than 0"}),
        ({"option": "perhaps", "values": {"amount": 5}}, {"option": f"Choose one of: {OPTIONS}."}),
        ({"option": "approve", "values": [1]}, {"values": "The values are an object of the form's fields."}),
    ]
    for with_run in (False, True):
        for data, fields in cases:
            body = {"eventId": event, "eventData": data, **({"workflowRunId": run_id} if with_run else {})}
            resp = http.post("/api/notify", json=body)
            assert resp.status_code == 400, resp.get_json()
            answer = resp.get_json()
            assert answer["success"] is False and answer["fields"] == fields
            assert answer["error"].startswith("Not decided")
            assert answer["refused"][0]["reason"] == "invalid"
            unchanged(client, run_id)
    resp = http.post("/api/notify", json={"eventId": event, "eventData": "approve"})
    assert resp.status_code == 400 and resp.get_json()["formErrors"] == [
        "A decision on this ask is an object: {option, values}."
    ]
    unchanged(client, run_id)

    body = {"eventId": event, "eventData": {"option": "request-changes", "values": {"amount": "12"}}}
    resp = http.post("/api/notify", json=body)
    assert resp.status_code == 200 and resp.get_json()["notified"][0]["workflowRunId"] == run_id
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result == {"success": True, "approved": False, "option": "request-changes", "amount": "12",
                          "requested": "120.00"}  # fmt: skip
    assert [s.name for s in run.steps] == [REVIEW_STEP]


def test_a_plain_notify_or_the_cli_cannot_skip_the_form(app: Flask, workers: Workers, client: Client) -> None:
    workers.start(1)
    run_id = start_refund(client)
    event = refund_event_id(run_id)
    # Library code's notify names no form: the script refuses it (Refusal.FORM), with or without a run id.
    assert client.notify(event, {"option": "approve", "values": {"amount": "1"}}) == []
    assert client.notify(event, {"approved": True}, run_id) == []
    unchanged(client, run_id)
    # The CLI goes through the one decision path: a bad amount is refused with pydantic's message.
    command = [sys.executable, "-m", "hitl_web.cli", "notify", event, "--as", "carol"]
    env = worker_env(client.settings)
    bad = subprocess.run([*command, "--data", '{"option": "approve", "values": {"amount": "-3"}}'], cwd=ROOT, env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0 and "amount: Input should be greater than 0" in bad.stderr, bad.stderr
    unchanged(client, run_id)
    good = subprocess.run([*command, "--data", '{"option": "reject", "values": {"amount": "3"}}'], cwd=ROOT, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["notified"][0]["run_id"] == run_id
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result["option"] == "reject" and run.steps[0].receipt["by"] == "carol"  # type: ignore[index]


def test_the_rule_for_what_a_decision_holds() -> None:
    step = Step("ask", StepType.WAIT, StepStatus.WAITING, 0.0, form=form_path(RefundDecision))
    assert form_model(step.form) is RefundDecision
    assert form_model("json:loads") is None and form_model("no.such.module:Model") is None  # never imported from data
    data = decision_data(step, {"option": "approve", "values": {"amount": "9.99"}})
    assert data == {"option": "approve", "approved": True, "values": {
        "amount": "9.99", "method": "original payment", "notify_customer": True, "note": None}}  # fmt: skip
    with pytest.raises(InvalidDecision) as refused:
        decision_data(step, {"option": "approve", "values": {"amount": "9.999", "note": "x" * 281}})
    assert set(refused.value.errors) == {"amount", "note"}
    options = normalize_options(["Ship it"])
    only = Step("ask", StepType.WAIT, StepStatus.WAITING, 0.0, form=OPTIONS_ONLY, options=options)
    assert decision_data(only, {"option": "ship-it"}) == {"option": "ship-it", "approved": False}
    with pytest.raises(InvalidDecision):
        decision_data(only, {"approved": True})  # "approve" is not one of its options
    assert decision_data(Step("plain", StepType.WAIT, StepStatus.WAITING, 0.0), "anything") == "anything"
    assert normalize_options({"ok": "Fine"}) == [["ok", "Fine"]]
    with pytest.raises(ValueError):
        normalize_options(["Approve", "approve"])
    assert changes({"amount": "1", "gone": 2}, {"amount": "2"}) == [("amount", "1", "2")]
    assert RefundDecision(amount=Decimal("1")).amount == Decimal("1")


def test_a_decision_kept_before_a_typed_ask_opens_is_refused_when_the_wait_takes_it(
    app: Flask, workers: Workers, client: Client
) -> None:
    # No worker yet: the run has not reached its typed wait, so the API keeps the decision (lookback),
    # unchecked; the wait that takes it refuses it (wait.lua: Refusal.FORM) and stays open.
    run_id = client.trigger("refund-review", {"customer": "ada", "amount": "120.00", "reason": "late"})
    body = {"eventId": refund_event_id(run_id), "eventData": {"option": "approve", "values": {"amount": "1"}},
            "workflowRunId": run_id}  # fmt: skip
    resp = app.test_client().post("/api/notify", json=body)
    assert resp.status_code == 200 and resp.get_json() == {"success": True, "notified": [], "kept": True}
    workers.start(1)
    wait_for_status(client, run_id, RunStatus.WAITING)
    unchanged(client, run_id)
    history = Realtime(client.store.redis, client.settings.key_prefix).channel(run_id)
    warnings = wait_until(lambda: [e for _, e in history.history() if e.name == "workflow.warning"])
    assert "(form): still waiting" in warnings[0].data["message"]  # type: ignore[index]
