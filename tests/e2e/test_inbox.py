"""The inbox in a real Chromium: asks arrive and leave live, the badge counts, and a bulk approve of 50."""

from __future__ import annotations

from playwright.sync_api import expect

from hitl_web.approvals import Decider, decide
from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer
from tests.conftest import wait_for_status, wait_until
from tests.e2e.conftest import NewPage, signed_in_page


def ask_for(client: Client, *approvers: str) -> str:
    run_id = client.trigger("quorum-sign-off", {"quorum": 1, "approvers": list(approvers)})
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def decide_as(client: Client, name: str, run_id: str) -> None:
    [done] = decide(client, Decider(name, True, "api"), f"quorum-{run_id}", {"approved": True}, run_id=run_id)
    assert done.accepted, done.message


def test_asks_arrive_and_leave_live_and_the_badge_counts(
    production_web: WebServer, client: Client, new_page: NewPage
) -> None:
    page = signed_in_page(new_page, production_web, "alice", "/inbox")
    items, badge = page.locator("[data-testid=inbox-item]"), page.locator("[data-testid=inbox-count]")
    expect(page.locator("[data-testid=inbox-empty]")).to_be_visible()
    expect(badge).to_have_text("0")

    first = ask_for(client, "alice", "bob")  # triggered elsewhere: it appears without a reload
    expect(items).to_have_count(1)
    expect(badge).to_have_text("1")
    page.locator(f"#pick-{first}-0").check()
    second = ask_for(client, "alice")
    not_hers = ask_for(client, "carol")
    expect(items).to_have_count(2)
    expect(badge).to_have_text("2")
    expect(page.locator(f"#pick-{first}-0")).to_be_checked()  # a push keeps what the approver picked
    assert not_hers not in page.content()

    decide_as(client, "bob", first)  # decided elsewhere: it leaves
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-run", second)
    expect(badge).to_have_text("1")


def test_fifty_asks_approved_in_one_confirm(production_web: WebServer, client: Client, new_page: NewPage) -> None:
    runs = [ask_for(client, "alice", "bob") for _ in range(50)]
    page = signed_in_page(new_page, production_web, "alice", "/inbox")
    expect(page.locator("[data-testid=inbox-item]")).to_have_count(50)
    for run_id in runs:
        page.locator(f"#pick-{run_id}-0").check()
    page.locator("[data-testid=bulk-approve]").click()
    expect(page.locator("[data-testid=bulk-item]")).to_have_count(50)  # the confirm page lists them

    decide_as(client, "bob", runs[7])  # someone else decides one in between
    page.locator("[data-testid=bulk-confirm-submit]").click()
    results = page.locator("[data-testid=bulk-result]")
    expect(results).to_have_count(50)
    expect(page.locator("h1")).to_have_text("49 of 50 decided")
    refused = page.locator("[data-testid=bulk-result][data-accepted=no]")
    expect(refused).to_have_count(1)
    expect(refused).to_have_attribute("data-run", runs[7])
    expect(refused).to_contain_text("Already decided by bob")

    def receipts() -> list[str]:
        return [client.get_run(r).steps[0].receipt["by"] for r in runs]  # type: ignore[index]

    wait_until(lambda: all(client.get_run(r).status is RunStatus.COMPLETED for r in runs), timeout=60)
    assert receipts() == ["bob" if i == 7 else "alice" for i in range(50)]
    assert all(client.get_run(r).steps[0].receipt["via"] == "form" for r in runs if r != runs[7])  # type: ignore[index]
