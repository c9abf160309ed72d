"""``HITL_LOG_FORMAT=json``: a worker's and a web process's lines are JSON objects a log shipper can index."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from hitl_web.engine import Client, RunStatus
from hitl_web.log_lines import fields_of
from hitl_web.settings import Settings
from hitl_web.stack import WebServer
from tests.conftest import Workers, wait_for_status, wait_until

TOKEN = "ops-token-0123456789abcdef"


def json_lines(text: str) -> list[dict[str, Any]]:
    """The lines of ``text`` that are hitl-web's JSON objects (RQ's own banner lines are its own)."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_worker_and_web_lines_are_json_with_run_workflow_step_status_duration_principal(
    settings: Settings, client: Client, workers: Workers, tmp_path: Path
) -> None:
    env = {"HITL_LOG_FORMAT": "json"}
    workers.start(1, extra_env=env)
    web = WebServer(settings, tmp_path, {**env, "HITL_ENV": "production", "HITL_API_TOKENS": f"ops:{TOKEN}"})
    web.start()
    try:
        run_id = client.trigger("waiter", {"event_id": "logged"})
        wait_for_status(client, run_id, RunStatus.WAITING)
        body = json.dumps({"eventId": "logged", "eventData": {"ok": True}}).encode()
        request = urllib.request.Request(f"{web.url}/api/notify", body, method="POST", headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 200
        wait_for_status(client, run_id, RunStatus.COMPLETED)

        def worker_lines() -> list[dict[str, Any]]:
            text = "".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
            return [line for line in json_lines(text) if line.get("run_id") == run_id]

        lines = wait_until(lambda: [x for x in worker_lines() if x.get("status") == "completed"] and worker_lines())
        assert isinstance(lines, list)
        statuses = [(line.get("step"), line["status"]) for line in lines]
        assert (None, "started") in statuses and ("wait", "waiting") in statuses, statuses
        done = next(line for line in lines if line["status"] == "completed" and "step" not in line)  # the run's end
        assert done["workflow"] == "waiter" and isinstance(done["duration_ms"], float) and done["level"] == "INFO"
        assert {"time", "logger", "message"} <= set(done)

        decided = wait_until(lambda: [x for x in json_lines(web.logs()) if x.get("run_id") == run_id])
        assert isinstance(decided, list)
        [line] = decided
        assert line["principal"] == "ops" and line["status"] == "decided" and line["step"] == "wait"
        assert line["via"] == "api" and line["logger"] == "hitl_web.decisions"
    finally:
        web.stop()


def test_fields_are_lifted_from_key_value_text() -> None:
    assert fields_of("run=wfr_1 workflow=refund step=approve status=failed error='no, \\'never\\'' attempt=3") == {
        "run_id": "wfr_1", "workflow": "refund", "step": "approve", "status": "failed",
        "error": "no, \\'never\\'", "attempt": 3,
    }  # fmt: skip
    assert fields_of("duration_ms=2.5 duration_ms_is=x") == {"duration_ms": 2.5, "duration_ms_is": "x"}
