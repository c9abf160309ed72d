"""An ask's e-mail reaches a real SMTP server; its one-click link, opened in Chromium, decides once, as its approver."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from hitl_web.engine import Client, RunStatus
from hitl_web.notifications.contacts import Contacts
from hitl_web.settings import Settings
from hitl_web.stack import WebServer
from hitl_web.web.auth import Approvers
from tests.conftest import PASSWORD, Workers, wait_for_status, wait_until
from tests.e2e.conftest import NewPage
from tests.notifier_servers import Mailbox, smtp_server

LINK = re.compile(r"^ +(Approve|Reject): (http://\S+/links/[\w-]+)", re.M)


@pytest.fixture
def mailed(settings: Settings, client: Client, tmp_path: Path, workers: Workers) -> Iterator[tuple[WebServer, Mailbox]]:
    """A production web process, a worker whose e-mail notifier sends to a real SMTP server, and alice's address."""
    for name in ("alice", "bob"):
        Approvers(client.store.redis, settings.key_prefix).add(name, PASSWORD)
    contacts = Contacts(client.store.redis, settings.key_prefix)
    contacts.set("alice", "alice@example.com")
    contacts.set("bob", "bob@example.com")
    web = WebServer(settings, tmp_path, {"HITL_ENV": "production", "HITL_COOKIE_SECURE": "false"})
    with smtp_server() as (box, smtp_url):
        env = {"HITL_NOTIFIERS": "mail=email", "HITL_SMTP_URL": smtp_url, "HITL_PUBLIC_URL": web.url}
        workers.start(1, extra_env=env)
        workers.start_notifier(env)
        web.start()
        yield web, box
        web.stop()


def links_of(mail: Any) -> dict[str, str]:
    """The mail's links by action, from its plain-text part."""
    return dict(LINK.findall(mail.get_body(("plain",)).get_content()))


def get(url: str) -> tuple[int, str]:
    """A plain GET, as a mail scanner's prefetch."""
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_mailed_link_confirms_decides_once_and_names_its_approver(
    mailed: tuple[WebServer, Mailbox], client: Client, new_page: NewPage
) -> None:
    _, box = mailed
    run_id = client.trigger("notified-approval")
    [mail] = box.wait(1)
    assert mail["To"] == "alice@example.com" and mail["Subject"] == "Approval needed: Refund <b>42</b> EUR?"
    html = mail.get_body(("html",)).get_content()
    assert "Refund &lt;b&gt;42&lt;/b&gt; EUR?" in html and "<b>42" not in html  # untrusted text, escaped
    links = links_of(mail)
    assert sorted(links) == ["Approve", "Reject"] and run_id in mail.get_body(("plain",)).get_content()

    status, body = get(links["Approve"])  # what a scanner does: it only sees the confirm page
    assert status == 200 and 'data-testid="link-confirm"' in body
    assert client.get_run(run_id).status is RunStatus.WAITING

    page = new_page()
    page.goto(links["Approve"])
    expect(page.locator("[data-testid=link-approver]")).to_have_text("alice")
    page.locator("[data-testid=link-confirm-submit]").click()
    expect(page.locator("[data-testid=link-result]")).to_have_text("Decision recorded.")
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result["decision"] == {"approved": True}
    receipt = done.steps[0].receipt or {}
    assert receipt["by"] == "alice" and receipt["via"] == "email-link" and len(receipt["link"]) == 16

    page.goto(links["Approve"])  # the same link again
    expect(page.locator("[data-testid=link-problem]")).to_contain_text("already used")
    status, body = get(links["Reject"])  # the other action's link: the ask is decided
    assert status == 410 and "no longer open" in body

    token = links["Reject"].rsplit("/", 1)[1]
    for forged in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * len(token), token + "x"):
        status, body = get(links["Reject"].replace(token, forged))
        assert status == 404 and "This link is not valid, or it has expired." in body  # no hint which part


def test_links_of_a_reassigned_or_expired_ask_are_refused(
    mailed: tuple[WebServer, Mailbox], client: Client, new_page: NewPage
) -> None:
    _, box = mailed
    moved = client.trigger("notified-approval")
    [first] = box.wait(1)
    assert client.reassign(moved, 0, ["bob"], "alice is away", by="ops", operator=True) is None
    [_, to_bob] = box.wait(2)  # a reassignment tells the ask's new approvers, with links of their own
    assert to_bob["To"] == "bob@example.com" and links_of(to_bob)["Approve"] != links_of(first)["Approve"]
    status, body = get(links_of(first)["Approve"])
    assert status == 410 and "reassigned" in body
    page = new_page()
    page.goto(links_of(first)["Approve"])
    expect(page.locator("[data-testid=link-problem]")).to_contain_text("reassigned")
    assert client.get_run(moved).status is RunStatus.WAITING

    expiring = client.trigger("notified-approval", {"timeout": "2s"})
    second = box.wait(3)[2]
    wait_for_status(client, expiring, RunStatus.COMPLETED, timeout=15)
    wait_until(lambda: get(links_of(second)["Approve"])[0] == 404, timeout=5)
    assert "not valid, or it has expired" in get(links_of(second)["Approve"])[1]
