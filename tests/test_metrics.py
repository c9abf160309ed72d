"""``GET /metrics``: counters summed over two web and two worker processes move as runs and decisions go."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import simple_websocket
from prometheus_client.parser import text_string_to_metric_families

from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from hitl_web.stack import WebServer
from tests.conftest import Workers, wait_for_status, wait_until

TOKEN = "scraper-token-0123456789abcdef"


def scrape(web: WebServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, by name and labels."""
    request = urllib.request.Request(f"{web.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_with_runs_and_decisions_across_processes(
    settings: Settings, client: Client, workers: Workers, tmp_path: Path
) -> None:
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    env = {**shared, "HITL_ENV": "production", "HITL_API_TOKENS": f"scraper:{TOKEN}"}
    webs = [WebServer(settings, tmp_path, env), WebServer(settings, tmp_path, env)]
    for web in webs:
        web.start()
    try:
        with urllib.request.urlopen(f"{webs[0].url}/metrics") as _:
            raise AssertionError("a scrape without a token was answered")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    try:
        workers.start(2, extra_env=shared)
        before = scrape(webs[0])
        decided = [client.trigger("waiter", {"event_id": f"metric-{i}"}) for i in range(4)]
        timing_out = [client.trigger("waiter", {"event_id": f"lapse-{i}", "timeout": "1s"}) for i in range(2)]
        for run_id in decided:
            wait_for_status(client, run_id, RunStatus.WAITING)
        assert value(scrape(webs[1]), "hitl_runs_waiting") >= 4
        for i in range(len(decided)):  # through the other web process's API
            body = json.dumps({"eventId": f"metric-{i}", "eventData": {"ok": True}}).encode()
            request = urllib.request.Request(f"{webs[1].url}/api/notify", body, method="POST", headers={
                "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})  # fmt: skip
            with urllib.request.urlopen(request) as answer:
                assert answer.status == 200
        for run_id in decided + timing_out:
            wait_for_status(client, run_id, RunStatus.COMPLETED, timeout=30)

        def delta(name: str, **labels: str) -> float:
            return value(scrape(webs[0]), name, **labels) - value(before, name, **labels)

        wait_until(lambda: delta("hitl_runs_finished_total", workflow="waiter", status="completed") == 6)
        assert delta("hitl_runs_started_total", workflow="waiter") == 6
        assert delta("hitl_asks_opened_total") == 6
        assert delta("hitl_asks_decided_total") == 4
        assert delta("hitl_asks_timed_out_total") == 2
        assert delta("hitl_notify_resume_seconds_count") == 4 and delta("hitl_ask_decision_seconds_count") == 4
        assert 0 < delta("hitl_notify_resume_seconds_sum") < 4 * 5.0
        assert delta("hitl_steps_total", status="waiting") == 6
        after = scrape(webs[0])
        assert value(after, "hitl_runs_waiting") == 0 and value(after, "hitl_queue_depth", queue="runs") == 0
        assert ("hitl_sweeper_lag_seconds", ()) in after
        viewers = [simple_websocket.Client.connect(f"ws://127.0.0.1:{web.port}/ws/index") for web in webs]
        wait_until(lambda: value(scrape(webs[0]), "hitl_websockets_open") == 2)  # one per web process, summed
        for viewer in viewers:
            viewer.close()
        wait_until(lambda: value(scrape(webs[1]), "hitl_websockets_open") == 0)
        runs_started = {p.name for p in (tmp_path / "metrics").iterdir() if p.name.startswith("counter_")}
        assert len(runs_started) >= 4, runs_started  # files of both web and both worker processes, summed
    finally:
        for web in webs:
            web.stop()
