"""What a person sees and clicks, in a real Chromium, against real gunicorn, worker and Redis."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from hitl_web.config import Settings
from hitl_web.stack import ROOT, WebServer, Workers
from hitl_web.workflow import Client, RunStatus
from tests.conftest import wait_for_status

SCREENSHOT = ROOT / "docs" / "run-waiting.png"


def start_from_index(page: Page, web: WebServer, action: str = "publish the report") -> str:
    """Start a human-in-loop run with the index page's form; returns the run id."""
    page.goto(web.url + "/")
    page.fill("input[name=action]", action)
    page.click("[data-testid=start-human-in-loop]")
    page.wait_for_url(re.compile(r"/runs/wfr_"))
    return page.locator("[data-testid=run-id]").inner_text()


def expect_live(page: Page) -> None:
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def expect_waiting(page: Page) -> None:
    expect(page.locator("[data-testid=approval]")).to_have_attribute("data-state", "pending")
    expect(page.locator("tr[data-testid=step]")).to_have_count(2)
    expect(page.locator("#step-0")).to_have_attribute("data-status", "completed")
    expect(page.locator("#step-1")).to_have_attribute("data-status", "waiting")


def live_state(page: Page) -> list[str]:
    return [page.locator(sel).inner_text() for sel in ("#run-status", "#approvals", "#steps")]


# 1. Approve, with every change arriving live (no reload anywhere in this test).
def test_approve_live(page: Page, web: WebServer, client: Client) -> None:
    start_from_index(page, web, "ship <b>v2</b>")
    expect_live(page)
    expect_waiting(page)
    expect(page.locator(".approval .message")).to_contain_text('Approve "ship <b>v2</b>"')
    # Every run takes the screenshot; `make screenshot` (HITL_UPDATE_SCREENSHOT=1) also keeps it in docs/.
    shot = page.screenshot(full_page=True)
    assert shot.startswith(b"\x89PNG") and len(shot) > 10_000
    if os.environ.get("HITL_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot)
    page.click("[data-testid=approve]")
    expect(page.locator("[data-testid=approval]")).to_have_attribute("data-state", "decided")
    expect(page.locator("[data-testid=receipt]")).to_contain_text("approved by guest-")
    expect(page.locator("[data-testid=finished-banner]")).to_contain_text("approved")
    expect(page.locator("tr[data-testid=step]")).to_have_count(4)
    expect(page.locator("#step-2")).to_contain_text("process-approved")
    expect(page.locator("#step-3")).to_contain_text("finalize")
    expect(page.locator("[data-testid=run-status]")).to_have_text("completed")


# 2. Reject.
def test_reject_live(page: Page, web: WebServer) -> None:
    start_from_index(page, web)
    expect_waiting(page)
    page.click("[data-testid=reject]")
    expect(page.locator("[data-testid=finished-banner]")).to_contain_text("rejected")
    expect(page.locator("tr[data-testid=step]")).to_have_count(3)
    expect(page.locator("#step-2")).to_contain_text("process-rejected")
    expect(page.locator("#steps")).not_to_contain_text("finalize")


# 3. Two tabs in two sessions: both live; the late decision is refused; one decision recorded.
def test_two_tabs_one_decision(browser: Browser, page: Page, web: WebServer, client: Client) -> None:
    run_id = start_from_index(page, web)
    other_ctx = browser.new_context()
    try:
        other = other_ctx.new_page()
        other.goto(f"{web.url}/runs/{run_id}")
        for tab in (page, other):
            expect_live(tab)
            expect_waiting(tab)
        first = page.locator("[data-testid=who]").inner_text()
        page.click("[data-testid=approve]")
        # The other tab learns of it live: its prompt turns into the receipt, no reload.
        expect(other.locator("[data-testid=receipt]")).to_contain_text(f"approved by {first}")
        expect(other.locator("[data-testid=finished-banner]")).to_contain_text("approved")
        # A decision sent late from the other session (its form as it was) is refused clearly.
        token = json.loads(other.get_attribute("body", "hx-headers") or "{}")["X-CSRF-Token"]
        resp = other_ctx.request.post(
            f"{web.url}/runs/{run_id}/approvals/1",
            form={"decision": "reject", "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        assert resp.status == 409 and f"Already decided by {first}" in resp.text()
    finally:
        other_ctx.close()
    run = client.get_run(run_id)
    assert run.steps[1].receipt["by"] == first and run.result["approved"] is True


# 4. A reload in the middle shows the same state, then keeps updating.
def test_reload_shows_same_state_then_updates(page: Page, web: WebServer, client: Client) -> None:
    run_id = start_from_index(page, web)
    expect_live(page)
    expect_waiting(page)
    before = live_state(page)
    page.reload()
    expect_live(page)
    assert live_state(page) == before
    client.notify(f"approval-{run_id}", {"approved": True}, run_id, receipt={"by": "ops"})
    expect(page.locator("[data-testid=finished-banner]")).to_contain_text("approved")
    expect(page.locator("[data-testid=receipt]")).to_contain_text("approved by ops")


# 5. The web process restarts while the page is open: it reconnects and catches up.
def test_web_restart_reconnects_and_catches_up(page: Page, web: WebServer, client: Client) -> None:
    run_id = start_from_index(page, web)
    expect_live(page)
    expect_waiting(page)
    web.stop()
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    client.notify(f"approval-{run_id}", {"approved": False}, run_id, receipt={"by": "ops"})
    wait_for_status(client, run_id, RunStatus.COMPLETED)
    web.start()
    expect_live(page)
    expect(page.locator("[data-testid=finished-banner]")).to_contain_text("rejected")


# 6. Without JavaScript, approving is a plain form POST and a 303 back.
def test_no_javascript_plain_form(browser: Browser, web: WebServer, client: Client) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(web.url + "/")
        page.click("[data-testid=start-human-in-loop]")
        page.wait_for_url(re.compile(r"/runs/wfr_"))
        run_id = page.locator("[data-testid=run-id]").inner_text()
        wait_for_status(client, run_id, RunStatus.WAITING)
        page.reload()
        page.click("[data-testid=approve]")
        page.wait_for_url(f"{web.url}/runs/{run_id}")
        expect(page.locator("[data-testid=notice]")).to_contain_text("Decision recorded")
        wait_for_status(client, run_id, RunStatus.COMPLETED)
        page.reload()
        expect(page.locator("[data-testid=receipt]")).to_contain_text("approved by guest-")
        expect(page.locator("[data-testid=finished-banner]")).to_contain_text("approved")
    finally:
        ctx.close()


# 7. A short timeout shows as such.
def test_timeout_shows_live(page: Page, settings: Settings, workers: Workers, tmp_path: Path) -> None:
    workers.start(1, {"HITL_APPROVAL_TIMEOUT": "2s"})
    web = WebServer(settings, tmp_path / "web").start()
    try:
        start_from_index(page, web)
        expect(page.locator("[data-testid=approval]")).to_have_attribute("data-state", "pending")
        expect(page.locator("[data-testid=approval]")).to_have_attribute("data-state", "expired")
        expect(page.locator("[data-testid=finished-banner]")).to_contain_text("timeout")
    finally:
        web.stop()


# Untrusted step results and messages render inert, in the page and in pushed fragments.
def test_hostile_content_is_inert(page: Page, web: WebServer, client: Client) -> None:
    evil_user = '<img src=x onerror="window.__xss=1">'
    evil_action = "<script>window.__xss=2</script>\"'><svg onload=window.__xss=3>"
    run_id = client.trigger("human-in-loop", {"userId": evil_user, "action": evil_action})
    page.goto(f"{web.url}/runs/{run_id}")
    expect_live(page)
    expect(page.locator(".approval .message")).to_contain_text(evil_action)  # shown as text
    page.click("[data-testid=approve]")  # pushes re-render everything with the same content
    expect(page.locator("[data-testid=finished-banner]")).to_contain_text("approved")
    expect(page.locator("#step-0")).to_contain_text("<img src=x onerror=")  # as text, JSON-quoted
    assert page.evaluate("window.__xss") is None
    assert page.locator("#steps img, #steps svg, #steps script, #approvals script").count() == 0


def test_index_lists_waiting_runs_live(page: Page, web: WebServer, client: Client, context: BrowserContext) -> None:
    page.goto(web.url + "/")
    expect_live(page)
    run_id = client.trigger("human-in-loop", {"userId": "ada", "action": "needs a look"})
    expect(page.locator("#waiting")).to_contain_text('Approve "needs a look" for ada?')
    expect(page.locator("#runs")).to_contain_text(run_id)
