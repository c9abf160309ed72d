"""A run's controls in the browser (issue 17): cancel after a confirm page, resume and restart failed runs."""

from __future__ import annotations

from playwright.sync_api import expect

from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer
from tests.conftest import wait_for_status
from tests.e2e.conftest import NewPage, signed_in_page
from tests.flows import conn


def test_an_approver_cancels_a_run_after_confirming_and_the_audit_trail_names_her(
    production_web: WebServer, client: Client, new_page: NewPage
) -> None:
    run_id = client.trigger("counted")
    wait_for_status(client, run_id, RunStatus.WAITING)
    watcher = signed_in_page(new_page, production_web, "bob", f"/runs/{run_id}")
    page = signed_in_page(new_page, production_web, "alice", f"/runs/{run_id}")
    page.locator("[data-testid=cancel-run]").click()
    expect(page.locator("[data-testid=cancel-confirm]")).to_be_visible()
    assert client.get_run(run_id).status is RunStatus.WAITING, "the confirm page (a GET) cancels nothing"
    page.locator("[data-testid=cancel-confirm-submit]").click()
    expect(page.locator("[data-testid=run-status]")).to_have_text("cancelled")
    expect(page.locator("[data-testid=notice]")).to_contain_text("Run cancelled by alice")
    expect(page.locator("[data-testid=cancel-run]")).to_have_count(0)
    expect(watcher.locator("[data-testid=run-status]")).to_have_text("cancelled")  # pushed to every open page
    assert client.get_run(run_id).status is RunStatus.CANCELLED
    assert [(e["kind"], e["by"]) for e in client.audit.entries(run_id=run_id)] == [("cancelled", "alice")]
    page.reload()
    expect(page.locator("[data-testid=timeline] li[data-kind=cancelled]")).to_contain_text("alice")


def test_a_visitor_who_is_not_signed_in_gets_no_controls(
    production_web: WebServer, client: Client, new_page: NewPage
) -> None:
    run_id = client.trigger("counted")
    wait_for_status(client, run_id, RunStatus.WAITING)
    page = new_page()
    page.goto(f"{production_web.url}/runs/{run_id}")
    expect(page.locator("[data-testid=cancel-run]")).to_have_count(0)
    confirm = page.goto(f"{production_web.url}/runs/{run_id}/cancel")
    assert confirm is not None and ("/login" in page.url or confirm.status == 403)
    expect(page.locator("[data-testid=cancel-confirm]")).to_have_count(0)
    posted = page.request.post(f"{production_web.url}/runs/{run_id}/cancel", max_redirects=0)
    assert posted.status in {303, 400, 403}
    assert client.get_run(run_id).status is RunStatus.WAITING


def test_failed_runs_are_resumed_from_the_run_page_and_restarted_from_runs(
    production_web: WebServer, client: Client, new_page: NewPage
) -> None:
    one = client.trigger("fixable")
    picked = [client.trigger("fixable") for _ in range(2)]
    for run_id in [one, *picked]:
        wait_for_status(client, run_id, RunStatus.FAILED, RunStatus.COMPLETED)
    conn().set(f"{client.settings.key_prefix}:test:fixed", "1")
    page = signed_in_page(new_page, production_web, "carol", f"/runs/{one}")
    expect(page.locator("[data-testid=run-status]")).to_have_text("failed")
    page.locator("[data-testid=resume-run]").click()
    expect(page.locator("[data-testid=notice]")).to_contain_text("Resumed from its failed step")
    expect(page.locator("[data-testid=run-status]")).to_have_text("completed")
    assert wait_for_status(client, one, RunStatus.COMPLETED).result == {"outcome": "fixed"}

    page.goto(f"{production_web.url}/runs?status=failed&workflow=fixable")
    boxes = page.locator("[data-testid=pick-run]")
    expect(boxes).to_have_count(2)
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("[data-testid=restart-picked]").click()
    results = page.locator("[data-testid=control-result]")
    expect(results).to_have_count(2)
    for run_id in picked:
        expect(page.locator(f"[data-testid=control-result][data-run={run_id}]")).to_have_attribute(
            "data-outcome", "restarted"
        )
    restarts = [e["outcome"] for run_id in picked for e in client.audit.entries(run_id=run_id)]
    assert len(restarts) == 2
    for new_id in restarts:
        assert wait_for_status(client, new_id, RunStatus.COMPLETED, RunStatus.FAILED).status is RunStatus.COMPLETED
