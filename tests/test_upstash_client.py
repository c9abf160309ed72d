"""The real ``@upstash/workflow`` Client (npm, run by node) against a real hitl-web web process.

A team that calls ``workflowClient.notify(...)`` from its own code points ``baseUrl`` at hitl-web:
notify both ways resumes the run, getWaiters lists it, cancel cancels, logs pages through runs, and
a token outside a wait's approvers is refused as on every other path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from hitl_web.stack import WebServer
from tests.conftest import Workers, wait_for_status

PACKAGE = "@upstash/workflow@1.3.3"
SCRIPT = Path(__file__).with_name("upstash_client.cjs")
CAROL, MALLORY = "carol-token-0123456789abcdef", "mallory-token-0123456789abcdef"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The npm package, installed for this run from the registry (as a team's project would)."""
    npm = shutil.which("npm")
    assert npm, "npm is needed (Node.js is on the machine: apt-get install -y nodejs npm)"
    where = tmp_path_factory.mktemp("npm")
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(where), PACKAGE], check=True,
                   stdout=subprocess.DEVNULL, timeout=300)  # fmt: skip
    return where / "node_modules" / "@upstash" / "workflow"


@pytest.fixture
def web(settings: Settings, tmp_path: Path, workers: Workers) -> Iterator[WebServer]:
    """A production web process with two API tokens (carol, mallory), and a worker."""
    tokens = f"carol:{CAROL},mallory:{MALLORY}"
    server = WebServer(settings, tmp_path, {"HITL_ENV": "production", "HITL_API_TOKENS": tokens})
    workers.start(1)
    server.start()
    yield server
    server.stop()


def upstash(package: Path, web: WebServer, op: str, argument: Any, token: str = CAROL) -> dict[str, Any]:
    """One Client call, run by node: ``{"ok": True, "answer": ...}`` or ``{"ok": False, "status", "error"}``."""
    env = {**os.environ, "UPSTASH_WORKFLOW": str(package), "BASE_URL": web.url, "TOKEN": token}
    done = subprocess.run(["node", str(SCRIPT), op, json.dumps(argument)], env=env, capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_notify_both_ways_get_waiters_and_refusals(package: Path, web: WebServer, client: Client) -> None:
    run_id = client.trigger("finance-sign-off")
    wait_for_status(client, run_id, RunStatus.WAITING)
    event_id = f"finance-{run_id}"

    listed = upstash(package, web, "getWaiters", {"eventId": event_id})
    assert listed["ok"], listed
    [waiter] = listed["answer"]
    assert waiter["workflowRunId"] == run_id and waiter["url"].endswith(f"/runs/{run_id}")
    assert isinstance(waiter["deadline"], int) and waiter["deadline"] == int(client.get_run(run_id).waits[0].deadline)

    refused = upstash(package, web, "notify", {"eventId": event_id, "eventData": {"approved": True}}, MALLORY)
    assert not refused["ok"] and refused["status"] == 403 and "not_approver" in refused["error"], refused
    assert client.get_run(run_id).status is RunStatus.WAITING  # nothing changed

    notified = upstash(package, web, "notify", {"eventId": event_id, "eventData": {"approved": True}})
    assert notified["ok"], notified
    [entry] = notified["answer"]
    assert entry["waiter"]["workflowRunId"] == run_id and entry["messageId"] and entry["error"] == ""
    done = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert done.result == {"decision": {"approved": True}}
    assert (done.steps[0].receipt or {})["by"] == "carol" and (done.steps[0].receipt or {})["via"] == "upstash-api"

    nobody = upstash(package, web, "notify", {"eventId": "nobody-waits-on-this", "eventData": "x"})
    assert nobody == {"ok": True, "answer": []}
    assert upstash(package, web, "getWaiters", {"eventId": event_id}) == {"ok": True, "answer": []}

    # With its run id (lookback), and the event's data as a raw string, as Upstash takes it.
    other = client.trigger("waiter", {"event_id": "shared-event"})
    bystander = client.trigger("waiter", {"event_id": "shared-event"})
    for waiting in (other, bystander):
        wait_for_status(client, waiting, RunStatus.WAITING)
    targeted = upstash(
        package, web, "notify", {"eventId": "shared-event", "eventData": "ship it", "workflowRunId": other}
    )
    assert targeted["ok"] and [e["waiter"]["workflowRunId"] for e in targeted["answer"]] == [other], targeted
    assert wait_for_status(client, other, RunStatus.COMPLETED).result["event_data"] == "ship it"
    assert client.get_run(bystander).status is RunStatus.WAITING


def test_cancel_and_logs(package: Path, web: WebServer, client: Client) -> None:
    doomed = [client.trigger("counted") for _ in range(3)]
    kept = client.trigger("counted")
    for run_id in [*doomed, kept]:
        wait_for_status(client, run_id, RunStatus.WAITING)
    cancelled = upstash(package, web, "cancel", doomed[:2])
    assert cancelled == {"ok": True, "answer": {"cancelled": 2}}, cancelled
    # What context.cancel() and older clients send: one run, ?cancel=true.
    request = urllib.request.Request(f"{web.url}/v2/workflows/runs/{doomed[2]}?cancel=true", method="DELETE",
                                     headers={"Authorization": f"Bearer {CAROL}"})  # fmt: skip
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200
    assert all(client.get_run(r).status is RunStatus.CANCELLED for r in doomed)
    assert client.get_run(kept).status is RunStatus.WAITING
    assert upstash(package, web, "cancel", doomed[:1])["answer"] == {"cancelled": 0}  # already cancelled
    for run_id in doomed:  # the audit trail names the token's principal
        assert [(e["kind"], e["by"]) for e in client.audit.entries(run_id=run_id)] == [("cancelled", "carol")]

    finished = [client.trigger("basic") for _ in range(5)]
    for run_id in finished:
        wait_for_status(client, run_id, RunStatus.COMPLETED)
    seen: list[str] = []
    cursor = None
    while True:
        page = upstash(package, web, "logs", {"count": 2, **({"cursor": cursor} if cursor else {})})
        assert page["ok"] and len(page["answer"]["runs"]) <= 2, page
        seen.extend(run["workflowRunId"] for run in page["answer"]["runs"])
        cursor = page["answer"]["cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted([*doomed, kept, *finished])  # every run exactly once, newest first
    success = upstash(package, web, "logs", {"count": 50, "filter": {"state": "RUN_SUCCESS"}})["answer"]["runs"]
    assert sorted(r["workflowRunId"] for r in success) == sorted(finished)
    one = success[0]
    assert one["workflowState"] == "RUN_SUCCESS" and one["steps"][0]["steps"][0]["state"] == "STEP_SUCCESS"
    started = upstash(package, web, "logs", {"filter": {"state": "RUN_STARTED"}})["answer"]["runs"]
    assert [r["workflowRunId"] for r in started] == [kept]
    [log] = upstash(package, web, "logs", {"filter": {"workflowRunId": kept}})["answer"]["runs"]
    waits = [step for group in log["steps"] for step in group["steps"] if step["stepType"] == "Wait"]
    assert [(w["waitEventId"], w["state"], w["waitTimeout"]) for w in waits] == [(f"ev-{kept}", "STEP_PROGRESS", False)]
    assert not upstash(package, web, "logs", {}, token="not-a-token-of-this-server")["ok"]
