"""Redis failover with real processes: a primary, a replica and three Sentinels (the embedded redis-server).

Every process (gunicorn web, RQ workers, this test's client) finds the primary through the
Sentinels; with ``HITL_MIN_REPLICAS=1`` what a web process answered 200 is on a replica too, so it
survives a SIGKILL of the primary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import simple_websocket

from bench.chaos import Disruptions, Ledger, Load, check, post
from hitl_web.connections import connect
from hitl_web.devtools.sentinels import MASTER, SentinelCluster
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from hitl_web.stack import ROOT, WebServer, Workers, process_env
from tests.conftest import wait_for_status, wait_until


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    """A primary, one replica and three Sentinels of this test's own."""
    started = SentinelCluster(tmp_path / "redis").start()
    yield started
    started.stop()


@pytest.fixture
def replicated(settings: Settings, cluster: SentinelCluster) -> Settings:
    """Settings through the cluster's Sentinels, every acknowledged write on a replica."""
    return settings.model_copy(
        update={
            "redis_url": cluster.url,
            "redis_sentinels": tuple(cluster.sentinels_setting.split(",")),
            "redis_sentinel_master": MASTER,
            "redis_sentinel_password": cluster.sentinel_password,
            "min_replicas": 1,
            "replica_timeout": 2.0,
            "workflow_modules": (*settings.workflow_modules, "bench.flows"),
        }
    )


@pytest.fixture
def processes(
    replicated: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[WebServer, Workers]]:
    """A gunicorn web process and two workers on the cluster; their logs are shown when the test failed."""
    workers = Workers(replicated, tmp_path / "workers")
    workers.start(2, extra_env={"HITL_SOAK_LOG": str(tmp_path / "steps.log")})
    web = WebServer(replicated, tmp_path / "web").start()
    yield web, workers
    web.stop()
    workers.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("--- worker logs ---\n" + workers.logs()[-6000:] + "\n--- web log ---\n" + web.logs()[-4000:])


def test_what_was_acknowledged_survives_three_primary_kills(
    cluster: SentinelCluster, replicated: Settings, processes: tuple[WebServer, Workers], tmp_path: Path
) -> None:
    web, _workers = processes
    client = Client(connect(replicated), replicated)
    ledger, disruptions = Ledger(), Disruptions()
    for round_ in range(3):
        waiting = client.trigger("soak", None)  # a run whose page stays open across the failover
        wait_for_status(client, waiting, RunStatus.WAITING, timeout=15)
        viewer = simple_websocket.Client.connect(f"ws://127.0.0.1:{web.port}/ws/runs/{waiting}")
        load = Load([web.url], ledger)
        driving = threading.Thread(target=load.run, args=(200, 8))
        driving.start()
        # Kill it mid-way: 40 of the round's decisions answered, the rest in flight or to come.
        wait_until(partial(decided_at_least, ledger, len(ledger.decided) + 40), timeout=60)
        killed_at = time.time()
        old, new = cluster.kill_primary()
        cluster.rejoin(old)  # the old primary comes back as the new one's replica
        # Within 30 s of the kill every process works against the new primary: this web process
        # takes a trigger and a decision, a worker runs the run to its end, the open page sees it.
        probe = f"probe-{round_}-{int(killed_at)}"
        deadline = killed_at + 30
        assert post_until(web.url + "/api/trigger", {"workflowType": "soak", "workflowRunId": probe}, deadline)
        assert post_until(web.url + "/api/notify", {"eventId": f"soak-{probe}", "workflowRunId": probe}, deadline)
        assert post_until(web.url + "/api/notify", {"eventId": f"soak-{waiting}", "workflowRunId": waiting}, deadline)
        wait_for_status(client, probe, RunStatus.COMPLETED, timeout=max(1.0, deadline - time.time()))
        assert time.time() < deadline
        assert pushed_status(viewer, "completed", timeout=max(1.0, deadline - time.time())), "the open page caught up"
        viewer.close()
        disruptions.windows.append((killed_at, time.time() + replicated.lease_seconds))
        driving.join(180)
        assert not driving.is_alive()
        # (Sentinels may fail over again if the new primary stalls on a busy machine: what was
        # acknowledged must survive that too, so the test does not pin which node is primary.)
        assert new.port != old.port
    figures = check(client, ledger, tmp_path / "steps.log", disruptions)
    print(json.dumps(figures))  # the answers the load met (503s, dropped connections), for the record
    assert figures["runs"] == 600 and figures["completed"] == 600, figures
    assert figures["broken"] == [], figures
    assert figures["acknowledged_missing"] == 0
    assert figures["triggers_acknowledged"] >= 550 and figures["decisions_acknowledged"] >= 550, figures
    assert figures["finished_exactly_once"] == figures["one_outcome_per_ask"] == 600
    assert figures["announcements_lost"] <= 10, figures  # a live announcement the failover took (state is whole)


def decided_at_least(ledger: Ledger, n: int) -> bool:
    """Whether ``n`` decisions were acknowledged."""
    return len(ledger.decided) >= n


def post_until(url: str, body: dict[str, Any], deadline: float) -> bool:
    """POST until a 200 (or a 409: an earlier attempt got through) or ``deadline`` (a time.time())."""
    while time.time() < deadline:
        if post(url, body) in (200, 409):
            return True
        time.sleep(0.2)
    return False


def pushed_status(ws: simple_websocket.Client, status: str, timeout: float) -> bool:
    """Whether a fragment showing the run ``status`` arrives on ``ws`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        except simple_websocket.ConnectionClosed:
            return False
        if message is not None and f'data-status="{status}"' in str(message):
            return True
    return False


def notify(web: WebServer, run_id: str, data: Any) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"eventId": f"soak-{run_id}", "workflowRunId": run_id, "eventData": data}).encode()
    req = urllib.request.Request(web.url + "/api/notify", body, {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_decision_without_a_replica_is_a_503_that_changes_nothing(
    cluster: SentinelCluster, replicated: Settings, processes: tuple[WebServer, Workers]
) -> None:
    web, _workers = processes
    client = Client(connect(replicated), replicated)
    # The command line finds the primary through the Sentinels too.
    env = process_env(replicated, {"REDIS_SENTINEL_PASSWORD": cluster.sentinel_password})
    started = subprocess.run([sys.executable, "-m", "hitl_web.cli", "trigger", "soak", "--run-id", "soak-cli"],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert started.returncode == 0, started.stderr
    run_id = "soak-cli"
    wait_for_status(client, run_id, RunStatus.WAITING, timeout=15)
    (replica,) = cluster.replicas()
    replica.stop()
    status, body = notify(web, run_id, {"approved": True})
    assert status == 503, body
    assert "0 of 1 replicas online" in body["error"] and "nothing was saved" in body["error"], body
    run = client.get_run(run_id)
    assert run.status is RunStatus.WAITING and run.steps[-1].status.value == "waiting" and run.result is None
    assert not any(e["kind"] == "decided" for e in audit_of(client, run_id))
    # The replica is back: the same decision goes through, once.
    replica.start(replica_of=cluster.primary().port)
    cluster.wait_replicas(1)
    status, body = notify(web, run_id, {"approved": True})
    assert status == 200 and [n["workflowRunId"] for n in body["notified"]] == [run_id], body
    status, body = notify(web, run_id, {"approved": True})
    assert status == 409 and body["error"].startswith("Already decided by api at "), body
    wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=15)
    assert [e["kind"] for e in audit_of(client, run_id)].count("decided") == 1


def audit_of(client: Client, run_id: str) -> list[dict[str, Any]]:
    """The run's entries in the audit trail."""
    return list(client.audit.entries(run_id=run_id))
