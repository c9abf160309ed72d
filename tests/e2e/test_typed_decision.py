"""A typed decision in a real Chromium: fields from the model, a bad amount refused inline, an edit decided."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer
from tests.conftest import wait_for_status
from tests.e2e.conftest import NewPage


@pytest.mark.parametrize("javascript", [True, False])
def test_edit_before_approve(web: WebServer, client: Client, new_page: NewPage, javascript: bool) -> None:
    run_id = client.trigger("refund-review", {"customer": "ada", "amount": "120.00", "reason": "late"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    page = new_page(java_script_enabled=javascript)
    page.goto(f"{web.url}/runs/{run_id}")
    if javascript:
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    prompt = page.locator("#approval-0")
    amount = prompt.locator("#approval-0-amount")
    expect(amount).to_have_value("120.00")  # proposed by the run
    expect(amount).to_have_attribute("max", "1000")
    expect(prompt.locator("#approval-0-amount-help")).to_have_text("at most 1,000 without a second review")
    expect(prompt.locator("[data-testid^=option-]")).to_have_text(["Approve", "Reject", "Request changes"])

    # 5000 is over the model's bound: bypass the browser's own max check to reach the server's.
    page.evaluate("document.querySelector('#approval-0 form').noValidate = true")
    amount.fill("5000")
    prompt.locator("input[name=comment]").fill("too much")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        prompt.locator("[data-testid=option-approve]").click()
    assert posted.value.status == 400
    prompt = page.locator("#approval-0")
    error = prompt.locator("#approval-0-amount-error")
    expect(error).to_have_text("Input should be less than or equal to 1000")
    expect(prompt.locator("#approval-0-amount")).to_have_attribute("aria-invalid", "true")
    expect(prompt.locator("#approval-0-amount")).to_have_value("5000")  # as typed
    expect(prompt.locator("input[name=comment]")).to_have_value("too much")
    run = client.get_run(run_id)
    assert run.status is RunStatus.WAITING and run.steps[0].receipt is None

    prompt.locator("#approval-0-amount").fill("80")
    prompt.locator("#approval-0-method").select_option("store credit")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        prompt.locator("[data-testid=option-approve]").click()
    assert posted.value.status == (200 if javascript else 303)
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result["amount"] == "80" and run.steps[1].result == {"refunded": "80", "method": "store credit"}
    if not javascript:
        # The 303's page must have loaded before the reload: reloading a navigation under way
        # failed once ("Not attached to an active page"), as test_no_javascript_plain_form knows.
        page.wait_for_url(f"{web.url}/runs/{run_id}")
        page.reload()  # a page without JavaScript shows the new state on its next load
    receipt = page.locator("#approval-0 [data-testid=receipt]")
    expect(receipt).to_contain_text("Approve")
    expect(page.locator("#approval-0 [data-testid=changes]")).to_have_text(
        'Changed from the proposal: amount "120.00" → "80"'
    )
    expect(page.locator("#approval-0 [data-testid=decided-values]")).to_contain_text('"store credit"')
