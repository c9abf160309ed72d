"""The inbox: each principal's open asks across all runs, from an index the scripts keep, soonest first."""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask

from hitl_web import create_app
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from hitl_web.web.auth import Approvers
from tests.conftest import PASSWORD, TEST_SECRET, Workers, signed_in, wait_for_status, wait_until


def ask(client: Client, payload: dict[str, Any], by: str | None = None) -> str:
    run_id = client.trigger("quorum-sign-off", {"quorum": 1, **payload}, triggered_by=by)
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def inbox(client: Client, principal: str) -> list[str]:
    return [a.run_id for a in client.inbox.asks(principal)]


def test_asks_are_filed_for_each_approver_and_group_and_leave_when_they_close(workers: Workers, client: Client) -> None:
    workers.start(1)
    client.groups.add("finance", "alice")
    later = ask(client, {"approvers": ["carol", "group:finance"], "timeout": "2h"})
    sooner = ask(client, {"approvers": ["carol"], "timeout": "1h"})
    anyone = client.trigger("human-in-loop", {"userId": "u", "action": "a"})  # no approvers: any approver's
    wait_for_status(client, anyone, RunStatus.WAITING)

    assert inbox(client, "carol") == [anyone, sooner, later]  # the example's 5 minutes come first
    assert inbox(client, "alice") == [anyone, later]  # through group:finance
    assert inbox(client, "bob") == [anyone]
    assert client.inbox.count("carol") == 3 and client.inbox.asks("carol", limit=1, offset=1)[0].run_id == sooner

    # An ask filed under two of a principal's entries (her name and her group) counts once.
    both = ask(client, {"approvers": ["alice", "group:finance"], "timeout": "3h"})
    assert client.inbox.count("alice") == 3 and inbox(client, "alice") == [anyone, later, both]
    assert client.inbox.count("alice", cap=2) == 2  # the header's badge stops at its cap
    assert client.cancel_run(both) is RunStatus.CANCELLED and client.inbox.count("alice") == 2

    # Decided, cancelled, reassigned: the index follows in the same script.
    assert client.notify(f"quorum-{sooner}", {"approved": True}, sooner)
    assert client.cancel_run(anyone) is RunStatus.CANCELLED
    assert client.reassign(later, 0, ["bob"], "bob covers finance", by="carol") is None
    assert inbox(client, "carol") == [] and inbox(client, "alice") == []
    assert inbox(client, "bob") == [later]
    client.groups.add("finance", "bob")  # a new member sees the group's asks at once
    short = ask(client, {"approvers": ["group:finance"], "timeout": "2s"})
    assert inbox(client, "bob") == [short, later]
    wait_for_status(client, short, RunStatus.COMPLETED, timeout=20)  # timed out by the sweeper
    assert inbox(client, "bob") == [later]


def production(settings: Settings, client: Client) -> Flask:
    for name in ("alice", "bob", "carol"):
        Approvers(client.store.redis, settings.key_prefix).add(name, PASSWORD)
    return create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": False})


def test_the_inbox_page_lists_what_the_approver_may_decide(
    settings: Settings, workers: Workers, client: Client
) -> None:
    workers.start(1)
    app = production(settings, client)
    mine = ask(client, {"approvers": ["alice", "bob"]})
    own = ask(client, {"approvers": ["alice", "bob"]}, by="alice")  # hers: separation of duties hides it
    refund = client.trigger("refund-review", {"customer": "ada", "amount": "12.00", "reason": "late"})
    wait_for_status(client, refund, RunStatus.WAITING)
    client.groups.add("finance", "alice")

    alice = signed_in(app, "alice")
    page = alice.get("/inbox").get_data(as_text=True)
    assert mine in page and refund in page and own not in page
    assert 'data-testid="inbox-count"' in page
    only = alice.get("/inbox?workflow=refund-review").get_data(as_text=True)
    assert refund in only and mine not in only
    assert own in signed_in(app, "bob").get("/inbox").get_data(as_text=True)
    carol = signed_in(app, "carol").get("/inbox").get_data(as_text=True)
    assert refund in carol and mine not in carol and own not in carol  # refund-review: any approver's
    visitor = signed_in(app, None).get("/inbox").get_data(as_text=True)
    assert 'data-testid="sign-in-for-inbox"' in visitor and mine not in visitor


def test_asks_opened_before_the_inbox_index_are_filed_by_the_sweepers_walk(
    workers: Workers, client: Client, rconn: redis.Redis
) -> None:
    workers.start(1)
    old = ask(client, {"approvers": ["carol", "group:finance"]})
    anyone = client.trigger("human-in-loop", {"userId": "u", "action": "a"})
    wait_for_status(client, anyone, RunStatus.WAITING)
    workers.stop_all()
    keys = client.store.keys
    # As an earlier version left them: no inbox entries, and the walk never ran.
    rconn.delete(keys.inbox("carol"), keys.inbox("group:finance"), keys.inbox(""), keys.inboxed)
    assert inbox(client, "carol") == []
    client.groups.add("finance", "alice")
    workers.start(1)  # the upgraded worker's sweeps walk the runs
    wait_until(lambda: inbox(client, "carol") == [anyone, old], timeout=20)
    assert inbox(client, "alice") == [anyone, old]
    assert rconn.get(keys.inboxed) in ("done", b"done")
    rconn.delete(keys.inboxed)
    while not client.store.upgrades.backfill_inbox(count=1):  # and again by hand, a run a call: idempotent
        pass
    assert inbox(client, "carol") == [anyone, old] and client.inbox.count("carol") == 2
