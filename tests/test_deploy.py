"""Operating it: scale-out across processes, Redis restarts, worker stops, the CLI (run command: test_front_door)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis
import simple_websocket

from hitl_web.connections import connect
from hitl_web.devtools.embedded_redis import EmbeddedRedis, free_port
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from tests.conftest import ROOT, WebServer, Workers, wait_for_status, wait_until, worker_env

STATUS_ORDER = {"running": 0, "waiting": 0, "completed": 1, "failed": 1, "cancelled": 1}


def post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def render_id(web: WebServer, run_id: str) -> str:
    with urllib.request.urlopen(f"{web.url}/runs/{run_id}") as resp:
        match = re.search(r"\?after=([0-9-]+)", resp.read().decode())
    assert match
    return match.group(1)


def follow_until_finished(ws: simple_websocket.Client) -> list[str]:
    """Fragments pushed to ``ws`` until one shows a finished run; their statuses never go backwards."""
    statuses: list[str] = []
    while not statuses or STATUS_ORDER[statuses[-1]] < 1:
        message = ws.receive(timeout=20)
        assert message is not None, f"no fragment after {statuses}"
        statuses.append(re.search(r'id="run-status"[^>]*data-status="(\w+)"', message).group(1))  # type: ignore[union-attr]
        last = message
    ranks = [STATUS_ORDER[s] for s in statuses]
    assert ranks == sorted(ranks), f"fragments out of order: {statuses}"
    statuses.append(last)
    return statuses


# 1 and 2. Two web processes, two workers: watch on A, decide on B; a worker killed mid-step.
def test_scale_out_watch_on_one_web_decide_on_another(
    settings: Settings, tmp_path: Path, workers: Workers, client: Client, rconn: redis.Redis
) -> None:
    procs = workers.start(2)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    web_a = WebServer(settings, tmp_path / "a").start()
    web_b = WebServer(settings, tmp_path / "b").start()
    try:
        status, body = post_json(f"{web_b.url}/api/trigger", {"workflowType": "human-in-loop"})
        run_id = body["workflowRunId"]
        wait_for_status(client, run_id, RunStatus.WAITING)
        ws = simple_websocket.Client.connect(
            f"ws://127.0.0.1:{web_a.port}/ws/runs/{run_id}?after={render_id(web_a, run_id)}"
        )
        try:
            status, body = post_json(
                f"{web_b.url}/api/notify", {"eventId": f"approval-{run_id}", "eventData": {"approved": True}}
            )
            assert status == 200 and body["notified"][0]["workflowRunId"] == run_id
            *statuses, final = follow_until_finished(ws)
            assert statuses[-1] == "completed" and "Workflow finished: approved" in final
            assert all(f'id="step-{i}"' in final for i in range(4))
        finally:
            ws.close()

        # A worker killed with SIGKILL while it executes a step: the other one finishes the run.
        run_id = post_json(f"{web_b.url}/api/trigger", {"workflowType": "slow", "payload": {"seconds": 1.5}})[1][
            "workflowRunId"
        ]
        ws = simple_websocket.Client.connect(f"ws://127.0.0.1:{web_a.port}/ws/runs/{run_id}?after=0-0")
        try:
            pid = int(wait_until(lambda: rconn.lindex(f"{settings.key_prefix}:test:slow-pid:{run_id}", 0)))  # type: ignore[arg-type]
            victim = next(p for p in procs if p.pid == pid)
            workers.kill(victim)
            *statuses, final = follow_until_finished(ws)
            assert statuses[-1] == "completed"
        finally:
            ws.close()
        run = client.get_run(run_id)
        assert run.steps[1].result != pid and run.steps[0].attempts == 1  # quick step not run again
    finally:
        web_a.stop()
        web_b.stop()


# 3. The run command (README command 1) is tests/test_front_door.py: a fresh clone, its own virtualenv.


# 4. Redis restarted (AOF on) with waiting runs.
def test_waiting_runs_survive_a_redis_restart(settings: Settings, tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()
    own = settings.model_copy(update={"redis_url": server.url})
    workers = Workers(own, tmp_path)
    try:
        workers.start(1)
        client = Client(connect(own.redis_url), own)
        run_ids = [client.trigger("human-in-loop") for _ in range(200)]
        wait_until(lambda: all(client.get_run(r).status is RunStatus.WAITING for r in run_ids), timeout=30)
        server.stop()
        time.sleep(0.5)
        server = EmbeddedRedis(tmp_path / "redis", port=server.port).start()
        assert all(client.get_run(r).status is RunStatus.WAITING for r in run_ids)
        for r in run_ids:
            assert len(client.notify(f"approval-{r}", {"approved": True})) == 1
        wait_until(lambda: all(client.get_run(r).status is RunStatus.COMPLETED for r in run_ids), timeout=60)
    finally:
        workers.stop_all()
        server.stop()


# Graceful stop: a worker told to stop (SIGTERM) finishes the run it is executing.
def test_worker_told_to_stop_finishes_its_run(workers: Workers, client: Client, rconn: redis.Redis) -> None:
    (proc,) = workers.start(1)
    run_id = client.trigger("slow", {"seconds": 1})
    wait_until(lambda: rconn.lindex(f"{client.settings.key_prefix}:test:slow-pid:{run_id}", 0))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    run = client.get_run(run_id)
    assert run.status is RunStatus.COMPLETED and run.steps[1].attempts == 1


# 5. The CLI.
def cli(
    settings: Settings, *args: str, env: dict[str, str] | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "hitl-web"), *args],
        env=env or worker_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        input=input_text if input_text is not None else "",
    )


def test_cli_commands_and_errors(settings: Settings, workers: Workers, client: Client) -> None:
    workers.start(1)
    done = cli(settings, "trigger", "human-in-loop", "--payload", '{"userId": "cli", "action": "ship"}')
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["workflowRunId"]
    wait_for_status(client, run_id, RunStatus.WAITING)

    listed = cli(settings, "runs", "--status", "waiting")
    assert listed.returncode == 0 and run_id in listed.stdout and "waiting" in listed.stdout
    shown = cli(settings, "show", run_id)
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "waiting"

    notified = cli(settings, "notify", f"approval-{run_id}", "--data", '{"approved": false}', "--run", run_id)
    assert notified.returncode == 0 and json.loads(notified.stdout)["notified"][0]["run_id"] == run_id
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.result["approved"] is False and run.steps[1].receipt["via"] == "cli"
    again = cli(settings, "notify", f"approval-{run_id}", "--data", "{}")
    assert again.returncode == 0 and json.loads(again.stdout) == {"notified": []}

    waiting_id = json.loads(cli(settings, "trigger", "human-in-loop").stdout)["workflowRunId"]
    wait_for_status(client, waiting_id, RunStatus.WAITING)
    cancelled = cli(settings, "cancel", waiting_id)
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["status"] == "cancelled"

    errors = [
        (("trigger", "nope"), 1, "unknown workflow 'nope'"),
        (("trigger", "human-in-loop", "--payload", "{bad"), 2, "--payload is not valid JSON"),
        (("trigger", "human-in-loop", "--payload", '{"userId": 1}'), 1, "userId: Input should be a valid string"),
        (("notify", "x", "--data", "[1,"), 2, "--data is not valid JSON"),
        (("show", "wfr_missing"), 1, "no run 'wfr_missing'"),
        (("cancel", "wfr_missing"), 1, "no run 'wfr_missing'"),
        (("cancel", run_id), 1, "already completed"),
        (("runs", "--status", "bogus"), 2, "invalid choice"),
        (("frobnicate",), 2, "invalid choice"),
        ((), 2, "required"),
    ]
    for args, code, message in errors:
        done = cli(settings, *args)
        assert (done.returncode, message in done.stderr) == (code, True), (args, done.returncode, done.stderr)

    no_redis = {k: v for k, v in worker_env(settings).items() if k != "REDIS_URL"}
    done = cli(settings, "runs", env=no_redis)
    assert done.returncode == 1 and "REDIS_URL is not set" in done.stderr
    dead = {**worker_env(settings), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    done = cli(settings, "runs", env=dead)
    assert done.returncode == 1 and "Redis is unreachable" in done.stderr


@pytest.mark.parametrize("line", ["status=started", "step=wait-for-approval status=waiting"])
def test_structured_log_lines(workers: Workers, client: Client, line: str) -> None:
    workers.start(1)
    run_id = client.trigger("human-in-loop")
    wait_for_status(client, run_id, RunStatus.WAITING)
    time.sleep(0.2)
    assert any(f"run={run_id} workflow=human-in-loop" in ln and line in ln for ln in workers.logs().splitlines())
