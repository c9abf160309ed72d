"""An ask's ladder (issue 16): reminders, each sent once however many workers sweep, an escalation, the default."""

from __future__ import annotations

import collections
import time
from typing import Any

from hitl_web.engine import Client, RunStatus
from tests.conftest import Workers, wait_for_status, wait_until
from tests.notifier_servers import Receiver, http_receiver
from tests.test_notifications import SECRET


def env(url: str) -> dict[str, str]:
    return {"HITL_NOTIFIERS": f"hook=webhook:{url}", "HITL_NOTIFIER_SECRETS": f"hook:{SECRET}",
            "HITL_DELIVERY_BACKOFF": "1"}  # fmt: skip


def kinds(receiver: Receiver) -> collections.Counter[str]:
    return collections.Counter(r["body"]["type"] for r in receiver.ok())


def test_reminders_go_once_each_with_a_worker_killed_then_it_escalates_and_defaults(
    workers: Workers, client: Client
) -> None:
    receiver = Receiver(SECRET)
    client.groups.add("managers", "mia")
    with http_receiver(receiver) as url:
        procs = workers.start(3, extra_env=env(url))
        workers.start_notifier(env(url))
        run_id = client.trigger("laddered-ask")
        wait_for_status(client, run_id, RunStatus.WAITING)
        wait_until(lambda: kinds(receiver)["ask.reminder"] >= 1, timeout=10)
        workers.kill(procs[0])  # in the middle of the ladder: the other two sweep on
        # The escalation adds the managers: mia's inbox shows the ask while it is open.
        wait_until(lambda: client.inbox.count("mia") == 1, timeout=10)
        step = client.get_run(run_id).steps[0]
        assert step.approvers == ["alice", "group:managers"] and step.reassignments[-1]["by"] == "system"
        assert step.reassignments[-1]["escalated"] is True
        done = wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=20)
        time.sleep(1.5)  # deliveries queued last have a moment to arrive
    assert done.result == {"decision": {"approved": False}, "defaulted": True}
    receipt = done.steps[0].receipt or {}
    assert receipt["by"] == "system" and receipt["via"] == "timeout"
    seen = kinds(receiver)
    assert seen == {"ask.opened": 1, "ask.reminder": 3, "ask.escalated": 1}, seen
    assert len(receiver.requests) == 5  # each once: none failed, none repeated
    escalated = [r["body"] for r in receiver.ok() if r["body"]["type"] == "ask.escalated"]
    assert sorted(escalated[0]["links"]) == ["alice", "mia"]  # the escalation's approvers hear of it
    names = [e for e in client_events(client, run_id) if e in {"workflow.reminded", "workflow.reassigned"}]
    assert names.count("workflow.reminded") == 3 and names.count("workflow.reassigned") == 1
    assert client.store.redis.zcard(client.store.keys.rungs) == 0  # nothing left of the ladder


def test_a_decision_stops_the_ladder(workers: Workers, client: Client) -> None:
    receiver = Receiver(SECRET)
    with http_receiver(receiver) as url:
        workers.start(1, extra_env=env(url))
        workers.start_notifier(env(url))
        run_id = client.trigger("laddered-ask", {"timeout": "1h", "escalate_after": "1h"})
        wait_for_status(client, run_id, RunStatus.WAITING)
        wait_until(lambda: kinds(receiver)["ask.reminder"] == 1, timeout=10)
        assert client.notify(f"ladder-{run_id}", {"approved": True}, run_id)
        wait_for_status(client, run_id, RunStatus.COMPLETED)
        time.sleep(2.5)  # two more reminders would have gone by now
        assert kinds(receiver)["ask.reminder"] == 1
        # The escalation's rung is left, due in an hour: it leaves then, and finds nothing open to act on.
        [(left, _)] = client.store.redis.zrange(client.store.keys.rungs, 0, -1, withscores=True)
        assert left.decode() == f"{run_id}:0:e"


def client_events(client: Client, run_id: str) -> list[Any]:
    from hitl_web.live import Realtime

    return [e.name for _, e in Realtime(client.store.redis, client.settings.key_prefix).channel(run_id).history()]
