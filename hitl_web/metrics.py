"""Prometheus metrics: what every web and worker process counts, and what Redis says at each scrape.

prometheus_client's multiprocess mode: each process writes its counters and histograms to files in
one directory (``PROMETHEUS_MULTIPROC_DIR``; by default one per key prefix under the temp dir), and
``GET /metrics`` adds them up. The library picks its storage when first imported, so nothing imports
it before ``enable`` has set the directory: the instruments are made on first use (``instruments``).
Gauges that describe the whole deployment (queue depth, runs waiting, sweeper lag) are read from
Redis at scrape time instead, so they are right whichever process is scraped.
"""

from __future__ import annotations

import os
import tempfile
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from .settings import Settings

if TYPE_CHECKING:
    from .engine import Client

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DECISION_BUCKETS = (1, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400)


def enable(settings: Settings | None = None) -> str:
    """Point prometheus_client at the shared directory (made if missing) before anything imports it."""
    found = settings or Settings.from_env()
    folder = found.metrics_dir or os.path.join(
        tempfile.gettempdir(), f"hitl-web-metrics-{os.getuid()}-{found.key_prefix}"
    )
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # what the library reads when first imported
    os.makedirs(folder, exist_ok=True)
    return folder


class Instruments:
    """The counters, histograms and gauges this process updates."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.runs_started = Counter("hitl_runs_started", "Runs started, by workflow", ["workflow"])
        self.runs_finished = Counter(
            "hitl_runs_finished",
            "Runs finished, by workflow and status (cancelled: workflow '')",
            ["workflow", "status"],
        )
        self.steps = Counter("hitl_steps", "Step transitions, by status (waiting, completed, timeout...)", ["status"])
        self.asks_opened = Counter("hitl_asks_opened", "Asks opened (a wait registered)")
        self.asks_decided = Counter("hitl_asks_decided", "Asks decided by a person (a decision taken, not a vote)")
        self.asks_timed_out = Counter("hitl_asks_timed_out", "Asks whose deadline passed undecided")
        self.ask_to_decision = Histogram(
            "hitl_ask_decision_seconds", "From an ask opening to its decision", buckets=DECISION_BUCKETS
        )
        self.notify_to_resume = Histogram(
            "hitl_notify_resume_seconds", "From a decision recorded to its run resuming, in the worker",
            buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.sockets = Gauge("hitl_websockets_open", "Open WebSockets (live pages)", multiprocess_mode="livesum")
        self.deliveries = Counter(
            "hitl_notifier_deliveries", "Notifier delivery attempts, by notifier and outcome", ["notifier", "outcome"]
        )


@cache
def instruments() -> Instruments:
    """This process's instruments (made once, after ``enable``)."""
    enable()
    return Instruments()


def resumed(resolution: dict[str, Any], opened_at: float) -> None:
    """A wait resumed in the worker: time from its decision (and from its opening) to now."""
    at = resolution.get("at")
    if not isinstance(at, int | float) or resolution.get("timeout"):
        return
    found = instruments()
    found.notify_to_resume.observe(max(time.time() - at, 0.0))
    found.ask_to_decision.observe(max(at - opened_at, 0.0))


def exposition(client: Client) -> tuple[bytes, str]:
    """Every process's metrics summed, and the deployment's gauges read from Redis now: the body and its type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    instruments()  # this process's own files exist even before it counted anything
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(RedisGauges(client))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_dead(pid: int) -> None:
    """A web process ended (gunicorn's ``child_exit``): its live gauges stop counting."""
    enable()
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class RedisGauges:
    """The deployment's state at scrape time: queue depths, runs waiting, how far the sweeper is behind."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def collect(self) -> Any:
        """The gauges, read in one pipeline."""
        from prometheus_client.core import GaugeMetricFamily

        settings, keys = self.client.settings, self.client.store.keys
        with self.client.store.redis.pipeline(transaction=False) as pipe:
            pipe.llen(f"rq:queue:{settings.queue_name}")
            pipe.llen(f"rq:queue:{settings.queue_name}-notify")
            pipe.zcard(keys.status("waiting"))
            pipe.zcard(keys.status("running"))
            pipe.zrange(keys.due, 0, 0, withscores=True)
            pipe.zrange(keys.status("waiting"), 0, 0, withscores=True)
            run_queue, notify_queue, waiting, running, due, deadline = pipe.execute()
        depth = GaugeMetricFamily("hitl_queue_depth", "Jobs queued, by queue", labels=["queue"])
        depth.add_metric(["runs"], run_queue)
        depth.add_metric(["notify"], notify_queue)
        yield depth
        yield GaugeMetricFamily("hitl_runs_waiting", "Runs waiting for a decision", value=waiting)
        yield GaugeMetricFamily("hitl_runs_running", "Runs running or queued to run", value=running)
        oldest = min([score for _, score in (due or []) + (deadline or [])], default=None)
        lag = max(time.time() - oldest, 0.0) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "hitl_sweeper_lag_seconds", "How long the oldest due deadline (lease, wake-up, ask) has passed", value=lag
        )
