"""A 2-of-3 quorum ask in three real Chromium profiles, each signed in as one approver, all live."""

from __future__ import annotations

from playwright.sync_api import expect

from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer
from tests.conftest import wait_for_status
from tests.e2e.conftest import APPROVERS, NewPage, csrf, signed_in_page


def test_two_of_three_live_on_every_page(production_web: WebServer, client: Client, new_page: NewPage) -> None:
    run_id = client.trigger("quorum-sign-off")
    wait_for_status(client, run_id, RunStatus.WAITING)
    pages = {name: signed_in_page(new_page, production_web, name, f"/runs/{run_id}") for name in APPROVERS}
    for page in pages.values():
        expect(page.locator("#approval-0 [data-testid=tally]")).to_contain_text("0 of 2 approvals")
        expect(page.locator("#approval-0 [data-testid=may-vote]")).to_have_text("alice, bob, carol")

    pages["alice"].locator("#approval-0 [data-testid=approve]").click()
    for page in pages.values():  # pushed to every open page, the voter's own included
        tally = page.locator("#approval-0 [data-testid=tally]")
        expect(tally).to_contain_text("1 of 2 approvals")
        expect(tally.locator("[data-testid=vote]")).to_have_text(["alice approved"])
        expect(tally.locator("[data-testid=may-vote]")).to_have_text("bob, carol")
    assert client.get_run(run_id).status is RunStatus.WAITING

    # alice's page offers her no second vote; one sent anyway counts once.
    expect(pages["alice"].locator("#approval-0 [data-testid=approve]")).to_have_count(0)
    expect(pages["alice"].locator("#approval-0 [data-testid=not-offered]")).to_contain_text("You have voted")
    url, origin = f"{production_web.url}/runs/{run_id}/approvals/0", {"Origin": production_web.url}
    again = pages["alice"].request.post(
        url, form={"decision": "approve", "csrf_token": csrf(pages["alice"])}, headers={**origin, "HX-Request": "true"}
    )
    assert again.status == 409 and "voted on this approval already" in again.text()
    assert len(client.get_run(run_id).votes[0]) == 1

    carol_form = pages["carol"].locator("#approval-0 form")
    token = csrf(pages["carol"])
    pages["bob"].locator("#approval-0 [data-testid=approve]").click()
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result == {"outcome": "approved", "voters": ["alice", "bob"], "approve": [True, True]}
    for page in pages.values():
        expect(page.locator("#approval-0 [data-testid=receipt]")).to_contain_text("approved by bob")
        expect(page.locator("#approval-0 [data-testid=tally]")).to_contain_text("2 of 2 approvals")
    expect(carol_form).to_have_count(0)  # gone from carol's page without a reload

    # carol's vote, sent anyway (as htmx would, and as a plain form): too late, and it says who was first.
    form = {"decision": "approve", "csrf_token": token}
    resp = pages["carol"].request.post(url, form=form, headers={**origin, "HX-Request": "true"})
    assert resp.status == 409 and "Already decided by bob" in resp.text()
    resp = pages["carol"].request.post(url, form=form, headers=origin)  # 303, then the page with the notice
    assert resp.ok and "Already decided by bob" in resp.text()
    assert len(client.get_run(run_id).votes[0]) == 2


def test_a_reassignment_moves_the_form_live(production_web: WebServer, client: Client, new_page: NewPage) -> None:
    """alice's ask: bob's page says whose it is; alice reassigns it to bob, and the form moves, live."""
    run_id = client.trigger("quorum-sign-off", {"quorum": 1, "approvers": ["alice"]})
    wait_for_status(client, run_id, RunStatus.WAITING)
    alice = signed_in_page(new_page, production_web, "alice", f"/runs/{run_id}")
    bob = signed_in_page(new_page, production_web, "bob", f"/runs/{run_id}")
    expect(alice.locator("#approval-0 [data-testid=approve]")).to_be_visible()
    expect(bob.locator("#approval-0 [data-testid=approve]")).to_have_count(0)
    expect(bob.locator("#approval-0 [data-testid=not-offered]")).to_contain_text("Waiting for alice to decide.")
    token = csrf(alice)

    alice.locator("#approval-0 [data-testid=reassign] summary").click()
    alice.fill("#approval-0 input[name=to]", "bob")
    alice.fill("#approval-0 input[name=reason]", "bob owns this account")
    alice.locator("#approval-0 [data-testid=reassign-submit]").click()
    expect(alice.locator("#approval-0 [data-testid=approve]")).to_have_count(0)
    expect(alice.locator("#approval-0 [data-testid=not-offered]")).to_contain_text("Waiting for bob to decide.")
    expect(bob.locator("#approval-0 [data-testid=approve]")).to_be_visible()  # pushed to bob's open page
    expect(bob.locator("#approval-0 [data-testid=reassignments]")).to_contain_text("bob owns this account")

    # alice's decision, sent anyway: refused, and nothing changes.
    resp = alice.request.post(
        f"{production_web.url}/runs/{run_id}/approvals/0",
        form={"decision": "approve", "csrf_token": token},
        headers={"Origin": production_web.url, "HX-Request": "true"},
    )
    assert resp.status == 403 and "Only bob may decide this approval." in resp.text()
    assert client.get_run(run_id).status is RunStatus.WAITING
    bob.locator("#approval-0 [data-testid=approve]").click()
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.steps[0].receipt["by"] == "bob"  # type: ignore[index]
