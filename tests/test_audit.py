"""The audit trail: every human decision, vote, refusal and reassignment, in order, exported as JSON lines."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask

from hitl_web import create_app
from hitl_web.approvals import Decider, decide
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from tests.conftest import TEST_SECRET, Workers, wait_for_status

TOKENS = {name: f"{name}-token-0123456789abcdef" for name in ("alice", "bob", "auditor", "mallory")}


def vote(client: Client, name: str, run_id: str, approved: bool = True) -> Any:
    [done] = decide(client, Decider(name, True, "api", "10.0.0.7"), f"quorum-{run_id}", {"approved": approved},
                    run_id=run_id)  # fmt: skip
    return done


def scenario(client: Client, workers: Workers) -> tuple[str, str, str]:
    """A quorum ask voted on and refused, an ask reassigned and a reassignment refused, a kept decision."""
    early = client.trigger("quorum-sign-off", {"quorum": 1, "approvers": ["alice"]})
    assert vote(client, "alice", early).status == 202  # kept: the run has not reached its ask (no worker yet)
    workers.start(1)
    run_id = client.trigger("quorum-sign-off")  # 2 of alice, bob, carol
    wait_for_status(client, run_id, RunStatus.WAITING)
    assert vote(client, "alice", run_id).counted
    assert vote(client, "alice", run_id).status == 409
    assert vote(client, "mallory", run_id).status == 403
    assert vote(client, "bob", run_id).accepted
    moved = client.trigger("quorum-sign-off", {"quorum": 1, "approvers": ["alice"]})
    wait_for_status(client, moved, RunStatus.WAITING)
    assert client.reassign(moved, 0, ["mallory"], "mine", by="mallory") is not None  # refused: not hers
    assert client.reassign(moved, 0, ["bob"], "bob covers", by="alice") is None
    return early, run_id, moved


def test_each_decision_vote_refusal_and_reassignment_is_one_entry_in_order(workers: Workers, client: Client) -> None:
    early, run_id, moved = scenario(client, workers)
    rows = [(e["kind"], e["by"], e["outcome"]) for e in client.audit.entries(run_id=run_id)]
    assert rows == [
        ("voted", "alice", "counted"),
        ("refused", "alice", "already_voted"),
        ("refused", "mallory", "not_approver"),
        ("decided", "bob", ""),
    ]
    first = next(iter(client.audit.entries(run_id=run_id)))
    assert first["index"] == 0 and first["eventId"] == f"quorum-{run_id}" and first["askSha1"]
    assert first["detail"]["via"] == "api" and first["detail"]["ip"] == "10.0.0.7"
    assert first["detail"]["decision"] == {"approved": True} and first["detail"]["approve"] is True
    assert [(e["kind"], e["by"]) for e in client.audit.entries(run_id=moved)] == [
        ("refused", "mallory"),
        ("reassigned", "alice"),
    ]
    [kept] = client.audit.entries(run_id=early)
    assert kept["kind"] == "kept" and kept["by"] == "alice"
    everything = list(client.audit.entries())
    assert [e["id"] for e in everything] == sorted(e["id"] for e in everything)  # one order: the stream's
    assert {e["runId"] for e in everything} == {early, run_id, moved}
    assert [e["runId"] for e in client.audit.entries(principal="mallory")] == [run_id, moved]


def production(settings: Settings) -> Flask:
    tokens = ",".join(f"{name}:{token}" for name, token in TOKENS.items())
    return create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": False,
                       "API_TOKENS": tokens, "AUDIT_READERS": ["auditor"]})  # fmt: skip


def test_the_export_is_json_lines_for_its_readers_only(settings: Settings, workers: Workers, client: Client) -> None:
    started = time.time()
    _, run_id, moved = scenario(client, workers)
    http = production(settings).test_client()

    def export(name: str | None, query: str = "") -> Any:
        headers = {"Authorization": f"Bearer {TOKENS[name]}"} if name else {}
        return http.get(f"/api/audit{query}", headers=headers)

    resp = export("auditor")
    assert resp.status_code == 200 and resp.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
    assert lines == json.loads(json.dumps(list(client.audit.entries())))  # every entry, in order
    assert len(lines) == 7
    only = [json.loads(line) for line in export("auditor", f"?run={moved}").get_data(as_text=True).splitlines()]
    assert [e["kind"] for e in only] == ["refused", "reassigned"]
    by_bob = export("auditor", "?principal=bob").get_data(as_text=True).splitlines()
    assert [json.loads(line)["kind"] for line in by_bob] == ["decided"]
    assert export("auditor", f"?until={started - 60}").get_data(as_text=True) == ""
    assert len(export("auditor", f"?since={started - 60}").get_data(as_text=True).splitlines()) == 7
    assert export("auditor", "?since=yesterday").status_code == 400

    for name in ("alice", "bob", "mallory"):  # principals who may not read it
        refused = export(name)
        assert refused.status_code == 403
        assert refused.get_json()["error"] == "this principal may not read the audit trail"
    assert export(None).status_code == 401

    page = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": True})
    html = page.test_client().get(f"/runs/{run_id}").get_data(as_text=True)
    assert 'data-testid="timeline"' in html and "already_voted" in html and "not_approver" in html
