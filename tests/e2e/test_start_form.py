"""The start form in a real Chromium with JavaScript off: a plain POST, answered 400 with inline errors, or a run."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer
from tests.conftest import wait_for_status
from tests.e2e.conftest import NewPage


def test_invalid_then_valid_without_javascript(web: WebServer, client: Client, new_page: NewPage) -> None:
    """An amount pydantic refuses comes back inline beside its field, nothing started; a valid one opens the run."""
    page = new_page(java_script_enabled=False)
    page.goto(web.url + "/")
    form = page.locator("form.start-form[data-workflow=refund]")
    page.fill("#start-refund-order", "A-1001")
    # 0 passes the browser's own check (min="0": HTML bounds are inclusive) and fails the model's gt=0.
    page.fill("#start-refund-amount", "0")
    page.select_option("#start-refund-reason", "damaged")
    page.check("#start-refund-express")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.locator("[data-testid=start-refund]").click()
    assert posted.value.status == 400
    expect(page.locator("#conn")).to_have_attribute("data-state", "connecting")  # no script ran

    amount = page.locator("#start-refund-amount")
    error = page.locator(".field", has=amount).locator("p.field-error")  # in the amount field's own wrapper
    expect(error).to_have_id("start-refund-amount-error")
    expect(error).to_have_text("Input should be greater than 0")
    expect(error).to_have_attribute("role", "alert")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_attribute("aria-describedby", "start-refund-amount-error")
    expect(page.locator("p.field-error")).to_have_count(1)
    # What was typed is still there.
    expect(amount).to_have_value("0")
    expect(page.locator("#start-refund-order")).to_have_value("A-1001")
    expect(page.locator("#start-refund-reason")).to_have_value("damaged")
    expect(page.locator("#start-refund-express")).to_be_checked()
    assert client.list_runs() == []

    page.fill("#start-refund-amount", "42.50")
    page.uncheck("#start-refund-notify_customer")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("[data-testid=start-refund]")
    assert posted.value.status == 303
    page.wait_for_url(re.compile(r"/runs/wfr_[\w-]+$"))
    run_id = page.locator("[data-testid=run-id]").inner_text()
    assert page.url == f"{web.url}/runs/{run_id}"
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.payload == {
        "order": "A-1001",
        "amount": 42.5,
        "reason": "damaged",
        "priority": 1,
        "express": True,
        "notify_customer": False,
        "items": 1,
        "note": None,
        "tags": [],
    }
    assert [r.run_id for r in client.list_runs()] == [run_id]
