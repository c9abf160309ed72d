"""Notifiers (issue 16): a signed webhook retried with backoff, a Slack message, deliveries on the run page."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hitl_web.approvals import Decider, decide
from hitl_web.engine import Client, RunStatus
from hitl_web.notifications.deliveries import Deliveries
from hitl_web.stack import WebServer
from tests.conftest import Workers, wait_for_status, wait_until
from tests.notifier_servers import Receiver, http_receiver

SECRET = "whsec-0123456789abcdef"


def notified(workers: Workers, client: Client, url: str, kind: str = "webhook", attempts: int = 5) -> str:
    """A worker with one notifier (``kind`` at ``url``, 1 s backoff), and a run whose ask it announces."""
    env = {"HITL_NOTIFIERS": f"hook={kind}:{url}", "HITL_NOTIFIER_SECRETS": f"hook:{SECRET}",
           "HITL_DELIVERY_ATTEMPTS": str(attempts), "HITL_DELIVERY_BACKOFF": "1",
           "HITL_PUBLIC_URL": "http://approvals.example"}  # fmt: skip
    workers.start(1, extra_env=env)
    workers.start_notifier(env)
    client.groups.add("refunds", "bob", "carol")
    run_id = client.trigger("notified-approval", {"approvers": ["alice", "group:refunds"]})
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def deliveries(client: Client, run_id: str) -> Any:
    return Deliveries(client.store.redis, client.settings.key_prefix).of_run(run_id)


def test_a_signed_webhook_failing_three_times_is_delivered_once_after_backoff(
    workers: Workers, client: Client, settings: Any, tmp_path: Path
) -> None:
    receiver = Receiver(SECRET, fail=3)
    with http_receiver(receiver) as url:
        run_id = notified(workers, client, url)
        wait_until(lambda: receiver.ok(), timeout=40)
        [delivered] = receiver.ok()
        assert len(receiver.requests) == 4 and all(r["valid"] for r in receiver.requests)
        body = delivered["body"]
        assert body["type"] == "ask.opened" and body["runId"] == run_id and body["message"] == "Refund <b>42</b> EUR?"
        assert sorted(body["links"]) == ["alice", "bob", "carol"]
        assert [link["label"] for link in body["links"]["alice"]] == ["Approve", "Reject"]
        assert body["links"]["alice"][0]["url"].startswith("http://approvals.example/links/")
        # Every attempt carries the same delivery id, so a receiver can drop a repeat.
        assert len({r["headers"]["X-Hitl-Delivery"] for r in receiver.requests}) == 1
        [record] = deliveries(client, run_id)
        wait_until(lambda: deliveries(client, run_id)[0].status == "delivered", timeout=5)
        [record] = deliveries(client, run_id)
        assert [a["ok"] for a in record.attempts] == [False, False, False, True] and record.to.startswith("127.0.0.1")
        gaps = [b["at"] - a["at"] for a, b in zip(record.attempts, record.attempts[1:], strict=False)]
        assert all(gap >= 0.4 for gap in gaps), gaps  # backed off (1 s, 2 s, 4 s, each x0.5-1.5)
        wait_until(lambda: len(receiver.requests) == 4, timeout=3)  # and never again after the success

        web = WebServer(settings, tmp_path).start()
        try:
            page = urllib.request.urlopen(f"{web.url}/runs/{run_id}").read().decode()
            assert 'data-testid="delivery" data-status="delivered"' in page and "4 attempts" in page
        finally:
            web.stop()


def test_a_receiver_that_never_succeeds_is_given_up_and_the_run_goes_on(workers: Workers, client: Client) -> None:
    receiver = Receiver(SECRET, fail=1000)
    with http_receiver(receiver) as url:
        run_id = notified(workers, client, url, attempts=3)
        wait_until(lambda: [d.status for d in deliveries(client, run_id)] == ["failed"], timeout=40)
        [record] = deliveries(client, run_id)
        assert len(record.attempts) == 3 and record.attempts[-1]["detail"] == "RuntimeError: HTTP 500"
        assert len(receiver.requests) == 3
        [done] = decide(client, Decider("bob", True, "api"), f"refund-{run_id}", {"approved": True}, run_id=run_id)
        assert done.accepted
        assert wait_for_status(client, run_id, RunStatus.COMPLETED).result["decision"] == {"approved": True}


def test_a_slack_message_has_the_ask_and_a_button_per_approver_and_action(workers: Workers, client: Client) -> None:
    receiver = Receiver()
    with http_receiver(receiver) as url:
        run_id = notified(workers, client, url, kind="slack")
        wait_until(lambda: receiver.ok(), timeout=20)
        [message] = [r["body"] for r in receiver.ok()]
        assert "X-Hitl-Signature" not in receiver.requests[0]["headers"]  # Slack's incoming webhooks sign nothing
        section, actions = message["blocks"]
        assert "*Refund &lt;b&gt;42&lt;/b&gt; EUR?*" in section["text"]["text"] and run_id in section["text"]["text"]
        labels = [button["text"]["text"] for button in actions["elements"]]
        assert labels == [f"{a} as {who}" for who in ("alice", "bob", "carol") for a in ("Approve", "Reject")]


@pytest.mark.parametrize("entry", ["x=pager:http://h", "x=webhook:ftp://h", "=email", "mail=email"])
def test_a_bad_notifier_entry_is_refused_with_its_reason(entry: str) -> None:
    from hitl_web.notifications.notifiers import InvalidNotifier, configured
    from hitl_web.settings import Settings

    with pytest.raises(InvalidNotifier, match="HITL_NOTIFIERS"):
        configured(Settings(notifiers=(entry,)))  # mail=email: no HITL_SMTP_URL to send with


def test_a_reassignment_tells_the_new_approvers_with_links_of_their_own(workers: Workers, client: Client) -> None:
    receiver = Receiver(SECRET)
    with http_receiver(receiver) as url:
        run_id = notified(workers, client, url)
        wait_until(lambda: receiver.ok(), timeout=20)
        assert client.reassign(run_id, 0, ["dave"], "dave covers refunds", by="ops", operator=True) is None
        wait_until(lambda: len(receiver.ok()) == 2, timeout=20)
        opened, moved = (r["body"] for r in receiver.ok())
        assert opened["type"] == "ask.opened" and moved["type"] == "ask.reassigned"
        assert list(moved["links"]) == ["dave"] and moved["runId"] == run_id
        time.sleep(0.5)
        assert len(receiver.requests) == 2  # told once
