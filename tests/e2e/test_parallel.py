"""Two asks open at once on one run page (legal and finance), in real Chromium profiles, live."""

from __future__ import annotations

from playwright.sync_api import expect

from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer
from tests.conftest import wait_for_status
from tests.e2e.conftest import NewPage, signed_in_page


def test_two_asks_each_decided_from_the_page_the_run_resumes_after_both(
    production_web: WebServer, client: Client, new_page: NewPage
) -> None:
    client.groups.add("legal", "carol")
    run_id = client.trigger("parallel-sign-off")
    wait_for_status(client, run_id, RunStatus.WAITING)
    carol = signed_in_page(new_page, production_web, "carol", f"/runs/{run_id}")  # legal, by her group
    alice = signed_in_page(new_page, production_web, "alice", f"/runs/{run_id}")  # finance
    # Each ask has its own fragment (its step's position) and offers its form only to its own approvers.
    expect(carol.locator("#approval-1 [data-testid=approve]")).to_be_visible()
    expect(carol.locator("#approval-2 [data-testid=approve]")).to_have_count(0)
    expect(alice.locator("#approval-2 [data-testid=approve]")).to_be_visible()
    expect(alice.locator("#approval-1 [data-testid=approve]")).to_have_count(0)

    carol.locator("#approval-1 [data-testid=approve]").click()
    for page in (carol, alice):  # pushed to both pages; the run still waits on finance
        expect(page.locator("#approval-1 [data-testid=receipt]")).to_contain_text("approved by carol")
    expect(alice.locator("#approval-2 [data-testid=approve]")).to_be_visible()
    assert client.get_run(run_id).status is RunStatus.WAITING

    alice.locator("#approval-2 [data-testid=reject]").click()
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result["finance"]["event_data"] == {"approved": False}
    for page in (carol, alice):
        expect(page.locator("#approval-2 [data-testid=receipt]")).to_contain_text("rejected by alice")
        expect(page.locator("[data-testid=run-status]")).to_contain_text("completed")


def test_a_rejection_withdraws_the_other_ask_live(production_web: WebServer, client: Client, new_page: NewPage) -> None:
    client.groups.add("legal", "carol")
    run_id = client.trigger("parallel-sign-off", {"resume": "first_rejection"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    carol = signed_in_page(new_page, production_web, "carol", f"/runs/{run_id}")
    bob = signed_in_page(new_page, production_web, "bob", f"/runs/{run_id}")
    expect(carol.locator("#approval-1 [data-testid=approve]")).to_be_visible()
    bob.locator("#approval-2 [data-testid=reject]").click()
    wait_for_status(client, run_id, RunStatus.COMPLETED)
    expect(carol.locator("#approval-1 [data-testid=approve]")).to_have_count(0)  # gone without a reload
    expect(carol.locator("#approval-1 [data-testid=receipt]")).to_contain_text("Withdrawn")
