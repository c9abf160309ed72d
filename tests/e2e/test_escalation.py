"""An ask's escalation, live (issue 16): the escalation group's member sees it arrive in her open inbox, marked."""

from __future__ import annotations

from playwright.sync_api import expect

from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer
from tests.conftest import wait_for_status
from tests.e2e.conftest import NewPage, signed_in_page


def test_an_escalation_reaches_the_managers_open_inbox_and_run_page_live(
    production_web: WebServer, client: Client, new_page: NewPage
) -> None:
    client.groups.add("managers", "carol")
    inbox = signed_in_page(new_page, production_web, "carol", "/inbox")
    expect(inbox.locator("[data-testid=inbox-empty]")).to_be_visible()
    run_id = client.trigger("laddered-ask", {"timeout": "1h", "remind_every": "1h", "escalate_after": "2s"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    run_page = signed_in_page(new_page, production_web, "carol", f"/runs/{run_id}")
    expect(run_page.locator("#approval-0 [data-testid=approve]")).to_have_count(0)  # alice's, until it escalates

    item = inbox.locator(f"[data-testid=inbox-item][data-run={run_id}]")
    expect(item).to_be_visible()  # pushed when the sweep escalated it: no reload
    expect(item.locator("[data-testid=escalated]")).to_have_text("escalated")
    expect(run_page.locator("#approval-0 [data-testid=approve]")).to_be_visible()  # her form, live
    expect(run_page.locator("#approval-0 [data-testid=reassignments]")).to_contain_text("escalated: undecided after 2s")

    run_page.locator("#approval-0 [data-testid=approve]").click()
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result == {"decision": {"approved": True}, "defaulted": False}
    assert (done.steps[0].receipt or {})["by"] == "carol"
    expect(inbox.locator("[data-testid=inbox-empty]")).to_be_visible()
