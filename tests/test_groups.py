"""Approver groups: ``group:<name>`` in a wait's approvers, managed from the CLI, applied to open asks at once."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hitl_web import create_app
from hitl_web.engine import Client, RunStatus
from hitl_web.engine.groups import group_ref
from hitl_web.settings import Settings
from tests.conftest import ROOT, TEST_SECRET, Workers, wait_for_status, worker_env

TOKENS = {name: f"{name}-token-0123456789abcdef" for name in ("alice", "bob", "carol", "mallory")}


@pytest.fixture
def prod(settings: Settings) -> Flask:
    """Production mode, each API token a principal."""
    tokens = ",".join(f"{name}:{token}" for name, token in TOKENS.items())
    return create_app(
        {"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": False, "API_TOKENS": tokens}
    )


def cli(client: Client, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hitl_web.cli", *args]
    return subprocess.run(command, cwd=ROOT, env=worker_env(client.settings), capture_output=True, text=True)


def decide(http: FlaskClient, name: str, run_id: str) -> Any:
    body = {"eventId": f"finance-{run_id}", "eventData": {"approved": True}, "workflowRunId": run_id}
    return http.post("/api/notify", json=body, headers={"Authorization": f"Bearer {TOKENS[name]}"})


def waiting_run(client: Client) -> str:
    run_id = client.trigger("finance-sign-off")
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def test_a_member_decides_a_non_member_is_refused_and_changes_apply_to_open_asks(
    prod: Flask, workers: Workers, client: Client
) -> None:
    workers.start(1)
    http = prod.test_client()
    added = cli(client, "group", "add", "finance", "alice")
    assert added.returncode == 0 and added.stdout.strip() == "group finance: 1 added", added.stderr
    first, second = waiting_run(client), waiting_run(client)

    resp = decide(http, "bob", first)  # not a member: 403 naming who may
    assert resp.status_code == 403, resp.get_json()
    assert resp.get_json()["error"] == "Only carol, members of finance may decide this approval."
    assert client.get_run(first).status is RunStatus.WAITING and client.get_run(first).steps[0].receipt is None

    # bob joins: the same open ask takes his decision now, with no change to the run.
    assert cli(client, "group", "add", "finance", "bob", "alice").stdout.strip() == "group finance: 1 added"
    assert decide(http, "bob", first).status_code == 200
    run = wait_for_status(client, first, RunStatus.COMPLETED)
    assert run.steps[0].receipt["by"] == "bob"  # type: ignore[index]

    # alice leaves: refused on the other open ask; carol, named directly, still decides it.
    assert cli(client, "group", "remove", "finance", "alice").stdout.strip() == "group finance: 1 removed"
    assert decide(http, "alice", second).status_code == 403
    assert decide(http, "mallory", second).status_code == 403
    assert decide(http, "carol", second).status_code == 200
    wait_for_status(client, second, RunStatus.COMPLETED)

    listed = cli(client, "group", "list")
    assert listed.returncode == 0 and listed.stdout == "finance: bob\n"
    assert client.groups.all() == {"finance": ["bob"]} and client.groups.of("bob") == ["finance"]
    # The last member leaves: the group is gone.
    assert client.groups.remove("finance", "bob") == 1 and client.groups.all() == {}


def test_bad_group_commands_answer_clearly_and_change_nothing(client: Client) -> None:
    client.groups.add("legal", "dora")
    for args, message in [
        (("group", "add", "fin ance", "x"), "invalid group name 'fin ance'"),
        (("group", "add", "legal"), "group add needs a NAME and one or more MEMBERS"),
        (("group", "remove", "legal", "zed"), "none of zed is in group 'legal'"),
    ]:
        done = cli(client, *args)
        assert done.returncode == 1 and message in done.stderr, done.stderr
    assert client.groups.all() == {"legal": ["dora"]}
    with pytest.raises(ValueError):
        group_ref("../x")
    assert group_ref("legal") == "group:legal"
