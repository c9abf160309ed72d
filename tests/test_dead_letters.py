"""The dead-letter list: failed runs resumed from their failed step or restarted, from the CLI, in bulk."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from hitl_web.engine import Client, RunStatus
from tests.conftest import ROOT, Workers, wait_for_status, worker_env

from .flows import conn


def cli(client: Client, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hitl_web.cli", "dlq", *args]
    return subprocess.run(
        command, env=worker_env(client.settings), capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def executions(client: Client, run_id: str, what: str) -> int:
    return int(conn().get(f"{client.settings.key_prefix}:test:count:{run_id}:{what}") or 0)


def fix_downstream(client: Client) -> None:
    conn().set(f"{client.settings.key_prefix}:test:fixed", "1")


def kinds(client: Client, run_id: str) -> list[tuple[str, str, str]]:
    return [(e["kind"], e["by"], e["outcome"]) for e in client.audit.entries(run_id=run_id)]


def test_a_failed_run_resumes_from_its_failed_step_from_the_cli(client: Client, workers: Workers) -> None:
    workers.start(1)
    run_id = client.trigger("fixable")
    failed = wait_for_status(client, run_id, RunStatus.FAILED, RunStatus.COMPLETED)
    assert failed.status is RunStatus.FAILED and "downstream service is down" in (failed.error or "")
    listed = cli(client, "list", "--workflow", "fixable")
    assert listed.returncode == 0, listed.stderr
    assert [r["workflowRunId"] for r in json.loads(listed.stdout)] == [run_id]

    fix_downstream(client)
    resumed = cli(client, "resume", run_id)
    assert resumed.returncode == 0 and json.loads(resumed.stdout) == {"resumed": 1}, resumed.stderr
    done = wait_for_status(client, run_id, RunStatus.COMPLETED, RunStatus.FAILED)
    assert done.status is RunStatus.COMPLETED and done.result == {"outcome": "fixed"} and done.error is None
    assert executions(client, run_id, "prepare") == 1, "a completed step keeps its result: not run again"
    assert executions(client, run_id, "attempt") == 2
    assert [s.status.value for s in done.steps] == ["completed", "completed"]
    who = kinds(client, run_id)
    assert len(who) == 1 and who[0][0] == "resumed" and who[0][1].startswith("cli:")
    again = cli(client, "resume", run_id)  # no longer failed: nothing to resume
    assert again.returncode == 1 and json.loads(again.stdout) == {"resumed": 0}
    assert cli(client, "list", "--workflow", "fixable").stdout.strip() == "[]"
    assert client.get_run(run_id).status is RunStatus.COMPLETED


def test_failed_runs_are_restarted_in_bulk_from_the_cli_and_complete(client: Client, workers: Workers) -> None:
    workers.start(1)
    failed = [client.trigger("fixable") for _ in range(3)]
    other = client.trigger("fatal")  # a failed run of another workflow: left alone
    for run_id in [*failed, other]:
        assert wait_for_status(client, run_id, RunStatus.FAILED, RunStatus.COMPLETED).status is RunStatus.FAILED
    fix_downstream(client)
    usage = cli(client, "restart")
    assert usage.returncode == 2 and "--all" in usage.stderr
    restarted = cli(client, "restart", "--all", "--workflow", "fixable")
    assert restarted.returncode == 0, restarted.stderr
    new_ids: list[str] = json.loads(restarted.stdout)["restarted"]
    assert len(new_ids) == 3 and not set(new_ids) & set(failed)
    for new_id in new_ids:
        run = wait_for_status(client, new_id, RunStatus.COMPLETED, RunStatus.FAILED)
        assert run.status is RunStatus.COMPLETED and run.workflow == "fixable"
        assert executions(client, new_id, "prepare") == 1 and executions(client, new_id, "attempt") == 1
    for run_id in failed:  # a restart leaves the failed run as it was, and says so in the audit trail
        assert client.get_run(run_id).status is RunStatus.FAILED
        ((kind, by, outcome),) = kinds(client, run_id)
        assert kind == "restarted" and by.startswith("cli:") and outcome in new_ids
    assert client.get_run(other).status is RunStatus.FAILED


def test_resume_and_restart_refuse_runs_that_are_not_failed(client: Client, workers: Workers) -> None:
    workers.start(1)
    waiting = client.trigger("counted")
    wait_for_status(client, waiting, RunStatus.WAITING)
    letters = client.dead_letters
    assert letters.resume(waiting, by="ops") is False and letters.restart(waiting, by="ops") is None
    assert client.get_run(waiting).status is RunStatus.WAITING
    assert letters.resume_all(["no-such-run"], by="ops") == 0
    assert kinds(client, waiting) == []
    details: dict[str, Any] = client.get_run(waiting).to_dict()
    assert details["status"] == "waiting"
