"""What a person sees and clicks, in a real Chromium, against real gunicorn, RQ worker and Redis."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from playwright.sync_api import Locator, Page, Request, expect

from hitl_web.engine import Client, RunStatus
from hitl_web.stack import ROOT, WebServer, Workers
from tests.conftest import wait_for_status
from tests.e2e.conftest import NewPage

SCREENSHOT = ROOT / "docs" / "run-waiting.png"
WAITING_ROWS = ["initial-processing", "wait-for-approval (wait)"]


# --- helpers -------------------------------------------------------------------------------------


def start_from_index(page: Page, web: WebServer, action: str = "publish the report") -> str:
    """Start a human-in-loop run with the index page's form; returns the run id shown on its page."""
    page.goto(web.url + "/")
    page.fill("input[name=action]", action)
    page.click("[data-testid=start-human-in-loop]")
    page.wait_for_url(re.compile(r"/runs/wfr_[\w-]+$"))
    run_id = page.locator("[data-testid=run-id]").inner_text()
    assert page.url == f"{web.url}/runs/{run_id}"
    return run_id


def open_run(page: Page, web: WebServer, run_id: str) -> None:
    """Open a run's page."""
    page.goto(f"{web.url}/runs/{run_id}")


def count_documents(page: Page) -> list[str]:
    """Record every document (page load) the tab requests, to prove later that it never reloaded."""
    loads: list[str] = []

    def on_request(request: Request) -> None:
        if request.resource_type == "document" and request.frame == page.main_frame:
            loads.append(request.url)

    page.on("request", on_request)
    return loads


def approval(page: Page) -> Locator:
    """The run's (only) approval prompt."""
    return page.locator("[data-testid=approval]")


def banner(page: Page) -> Locator:
    """The banner shown once the run has finished."""
    return page.locator("[data-testid=finished-banner]")


def step_names(page: Page) -> Locator:
    """The name cells of the step rows, in order."""
    return page.locator("tr[data-testid=step] td.name")


def step_row(page: Page, name: str) -> Locator:
    """The step row of the step called ``name``."""
    return page.locator("tr[data-testid=step]").filter(has=page.locator("td.name", has_text=name))


def expect_live(page: Page) -> None:
    """The page's WebSocket is open."""
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def expect_waiting(page: Page) -> None:
    """The run waits for a decision: two step rows and a pending prompt with both buttons."""
    expect(step_names(page)).to_have_text(WAITING_ROWS)
    expect(step_row(page, "initial-processing")).to_have_attribute("data-status", "completed")
    expect(step_row(page, "wait-for-approval")).to_have_attribute("data-status", "waiting")
    expect(page.locator("[data-testid=run-status]")).to_have_text("waiting")
    expect(approval(page)).to_have_count(1)
    expect(approval(page)).to_have_attribute("data-state", "pending")
    expect(approval(page).locator("[data-testid=approve]")).to_be_visible()
    expect(approval(page).locator("[data-testid=reject]")).to_be_visible()
    expect(banner(page)).to_have_count(0)


def expect_finished(page: Page, outcome: str, rows: list[str]) -> None:
    """The run completed with ``outcome`` in its banner, every one of ``rows`` completed."""
    expect(banner(page)).to_contain_text(outcome)
    expect(page.locator("[data-testid=run-status]")).to_have_text("completed")
    expect(step_names(page)).to_have_text(rows)
    for name in rows:
        expect(step_row(page, name.split(" ")[0])).to_have_attribute("data-status", "completed")


def shown_state(page: Page) -> dict[str, str]:
    """The visible text of the parts of a run page that live updates re-render."""
    return {sel: page.locator(sel).inner_text() for sel in ("#run-status", "#approvals", "#steps")}


def csrf_token(page: Page) -> str:
    """The session's CSRF token, as the page's htmx sends it."""
    headers = page.locator("body").get_attribute("hx-headers") or "{}"
    return str(json.loads(headers)["X-CSRF-Token"])


def receipts(client: Client, run_id: str) -> list[dict[str, Any]]:
    """Every decision receipt the engine recorded for a run."""
    return [step.receipt for step in client.get_run(run_id).steps if step.receipt is not None]


# --- tests ---------------------------------------------------------------------------------------
# The web fixtures come before the browser ones in each signature: tabs then close before the web
# process stops, which otherwise waits for their idle keep-alive connections (about 2 s a test).


def test_approve_live(web_only: WebServer, workers: Workers, page: Page) -> None:
    """Start from the index page, watch the steps and the prompt arrive, approve: all live, never reloaded."""
    loads = count_documents(page)
    run_id = start_from_index(page, web_only, "publish the quarterly report")
    expect_live(page)
    # No worker yet: the run is queued, and the page has nothing to show but that.
    expect(page.locator("[data-testid=run-status]")).to_have_text("running")
    expect(page.locator("#steps")).to_contain_text("No step yet.")
    expect(approval(page)).to_have_count(0)

    workers.start(1)
    expect_waiting(page)  # rows and prompt arrive over the WebSocket
    who = page.locator("[data-testid=who]").inner_text()
    # userId is an ordinary field of the start form, left at its model's default.
    expect(approval(page).locator(".message")).to_have_text('Approve "publish the quarterly report" for anonymous?')
    # Every run takes the screenshot; `make screenshot` (HITL_UPDATE_SCREENSHOT=1) also keeps it in docs/.
    shot = page.screenshot(full_page=True)
    assert shot.startswith(b"\x89PNG") and len(shot) > 10_000
    if os.environ.get("HITL_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot)

    page.click("[data-testid=approve]")
    expect(approval(page)).to_have_attribute("data-state", "decided")
    expect(approval(page).locator("[data-testid=receipt]")).to_contain_text(re.compile(rf"approved by {who}\s+at "))
    expect_finished(page, "approved", [*WAITING_ROWS, "process-approved", "finalize"])
    expect(approval(page).locator("form")).to_have_count(0)
    assert loads.count(f"{web_only.url}/runs/{run_id}") == 1, f"the run page was loaded more than once: {loads}"


def test_reject_live(web: WebServer, page: Page) -> None:
    """Reject: the banner says rejected, the rejected branch ran and nothing was finalized."""
    loads = count_documents(page)
    run_id = start_from_index(page, web)
    expect_live(page)
    expect_waiting(page)
    page.click("[data-testid=reject]")
    expect(approval(page)).to_have_attribute("data-state", "decided")
    expect(approval(page).locator("[data-testid=receipt]")).to_contain_text("rejected by guest-")
    expect_finished(page, "rejected", [*WAITING_ROWS, "process-rejected"])
    expect(step_row(page, "finalize")).to_have_count(0)
    assert loads.count(f"{web.url}/runs/{run_id}") == 1, f"the run page was loaded more than once: {loads}"


def test_two_tabs_one_decision(web: WebServer, client: Client, new_page: NewPage) -> None:
    """Two sessions watch one run; A approves, B sees it live, and B's late decision is refused clearly."""
    tab_a, tab_b = new_page(), new_page()
    run_id = start_from_index(tab_a, web)
    open_run(tab_b, web, run_id)
    for tab in (tab_a, tab_b):
        expect_live(tab)
        expect_waiting(tab)
    name_a = tab_a.locator("[data-testid=who]").inner_text()
    name_b = tab_b.locator("[data-testid=who]").inner_text()
    assert name_a.startswith("guest-") and name_b.startswith("guest-") and name_a != name_b
    stale_form = approval(tab_b).locator("form").evaluate("form => form.outerHTML")

    tab_a.click("[data-testid=approve]")
    expect(approval(tab_a).locator("[data-testid=receipt]")).to_contain_text(f"approved by {name_a}")
    # B learns of it live: its prompt becomes A's receipt, without a reload.
    expect(approval(tab_b)).to_have_attribute("data-state", "decided")
    expect(approval(tab_b).locator("[data-testid=receipt]")).to_contain_text(f"approved by {name_a}")
    expect(approval(tab_b).locator("form")).to_have_count(0)
    expect_finished(tab_b, "approved", [*WAITING_ROWS, "process-approved", "finalize"])

    # B submits the form it had before A decided (put back as it was): the prompt says who was first.
    put_back = "(box, html) => { box.insertAdjacentHTML('beforeend', html); htmx.process(box); }"
    approval(tab_b).evaluate(put_back, stale_form)
    approval(tab_b).locator("[data-testid=reject]").click()
    expect(approval(tab_b).locator("[data-testid=notice]")).to_contain_text(f"Already decided by {name_a} at ")
    expect(approval(tab_b).locator("[data-testid=notice]")).to_contain_text("approved")
    expect(approval(tab_b).locator("form")).to_have_count(0)

    # The same late decision as a plain form POST (B's cookies and CSRF token) is refused too.
    response = tab_b.context.request.post(
        f"{web.url}/runs/{run_id}/approvals/1", form={"decision": "reject", "csrf_token": csrf_token(tab_b)}
    )
    assert response.url == f"{web.url}/runs/{run_id}", response.url  # followed the 303 back to the run
    assert f"Already decided by {name_a} at " in response.text()

    recorded = receipts(client, run_id)
    assert [(r["by"], r["decision"]) for r in recorded] == [(name_a, {"approved": True})], recorded
    run = client.get_run(run_id)
    assert run.result["approved"] is True
    assert [s.name for s in run.steps] == ["initial-processing", "wait-for-approval", "process-approved", "finalize"]


def test_reload_shows_same_state_then_updates(web: WebServer, client: Client, page: Page) -> None:
    """A reload while waiting shows exactly the same state; the page then keeps updating live."""
    run_id = start_from_index(page, web)
    expect_live(page)
    expect_waiting(page)
    before = shown_state(page)
    page.reload()
    expect_live(page)
    assert shown_state(page) == before

    loads = count_documents(page)
    assert client.notify(f"approval-{run_id}", {"approved": True}, run_id)
    expect(approval(page)).to_have_attribute("data-state", "decided")
    expect_finished(page, "approved", [*WAITING_ROWS, "process-approved", "finalize"])
    assert loads == [], f"the page reloaded: {loads}"


def test_web_restart_reconnects_and_catches_up(web: WebServer, client: Client, page: Page) -> None:
    """The web process restarts under an open page; the run finishes meanwhile; the page reconnects and catches up."""
    loads = count_documents(page)
    run_id = start_from_index(page, web)
    expect_live(page)
    expect_waiting(page)

    web.stop()
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    assert client.notify(f"approval-{run_id}", {"approved": True}, run_id)  # the worker is still up
    wait_for_status(client, run_id, RunStatus.COMPLETED)
    expect(banner(page)).to_have_count(0)  # nothing could reach the page while the web was down

    web.start()
    expect_live(page)
    expect(approval(page)).to_have_attribute("data-state", "decided")
    expect_finished(page, "approved", [*WAITING_ROWS, "process-approved", "finalize"])
    assert loads.count(f"{web.url}/runs/{run_id}") == 1, f"the run page was loaded more than once: {loads}"


def test_no_javascript_plain_form(web: WebServer, client: Client, new_page: NewPage) -> None:
    """Without JavaScript, Approve is a plain form POST answered by a 303 back to the run page."""
    page = new_page(java_script_enabled=False)
    run_id = start_from_index(page, web)
    expect(page.locator("#conn")).to_have_attribute("data-state", "connecting")  # no script ran
    wait_for_status(client, run_id, RunStatus.WAITING)
    page.reload()  # no live updates without JavaScript
    expect_waiting(page)

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("[data-testid=approve]")
    assert posted.value.status == 303
    page.wait_for_url(f"{web.url}/runs/{run_id}")
    expect(page.locator("[data-testid=notice]")).to_contain_text("Decision recorded")
    expect(approval(page)).to_have_attribute("data-state", "decided")
    expect(approval(page).locator("[data-testid=receipt]")).to_contain_text(re.compile(r"approved by guest-\w+\s+at "))

    wait_for_status(client, run_id, RunStatus.COMPLETED)
    page.reload()
    expect_finished(page, "approved", [*WAITING_ROWS, "process-approved", "finalize"])
    expect(approval(page).locator("[data-testid=receipt]")).to_contain_text("approved by guest-")


def test_timeout_shows_live(web_only: WebServer, workers: Workers, page: Page) -> None:
    """With a 2 s approval timeout on the worker, the page shows the prompt expire and the run end in a timeout."""
    loads = count_documents(page)
    run_id = start_from_index(page, web_only)
    expect_live(page)
    workers.start(1, {"HITL_APPROVAL_TIMEOUT": "2s"})  # the page is open before the 2 s start
    expect(approval(page)).to_have_attribute("data-state", "pending")
    expect(approval(page)).to_have_attribute("data-state", "expired")
    expect(approval(page).locator("[data-testid=receipt]")).to_contain_text("Expired: no decision before")
    expect_finished(page, "timeout", WAITING_ROWS)
    expect(approval(page).locator("form")).to_have_count(0)
    assert loads.count(f"{web_only.url}/runs/{run_id}") == 1, f"the run page was loaded more than once: {loads}"


def test_hostile_content_is_inert(web: WebServer, client: Client, page: Page) -> None:
    """Markup in a run's payload shows as text, in the first render and in pushed fragments; no script runs."""
    user = '<img src=x onerror="window.__xss=1">'
    action = "<script>window.__xss=2</script>\"'><svg onload=window.__xss=3>"
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    run_id = client.trigger("human-in-loop", {"userId": user, "action": action})
    wait_for_status(client, run_id, RunStatus.WAITING)
    open_run(page, web, run_id)
    expect_live(page)
    message = approval(page).locator(".message")
    expect(message).to_have_text(f'Approve "{action}" for {user}?')

    page.click("[data-testid=approve]")  # the answer and the pushes re-render everything with the same content
    expect_finished(page, "approved", [*WAITING_ROWS, "process-approved", "finalize"])
    expect(message).to_have_text(f'Approve "{action}" for {user}?')
    for name in ("initial-processing", "process-approved"):
        result = step_row(page, name).locator("td.result")
        expect(result).to_contain_text(f'"userId": {json.dumps(user)}')
        expect(result).to_contain_text(f'"action": {json.dumps(action)}')
    assert page.locator(".run img, .run svg, .run script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not [url for url in requested if url.endswith("/x")], requested


def test_index_lists_waiting_runs_live(web: WebServer, client: Client, page: Page) -> None:
    """The index page lists a run that starts waiting, without a reload."""
    page.goto(web.url + "/")
    expect_live(page)
    loads = count_documents(page)
    run_id = client.trigger("human-in-loop", {"userId": "ada", "action": "needs a look"})
    expect(page.locator("#waiting")).to_contain_text('Approve "needs a look" for ada?')
    expect(page.locator("#runs")).to_contain_text(run_id)
    assert loads == [], f"the page reloaded: {loads}"
