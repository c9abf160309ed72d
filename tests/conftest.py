"""Real parts for every test: a redis-server on a free port, and real RQ worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from hitl_web import create_app
from hitl_web.config import Settings
from hitl_web.redis import EmbeddedRedis, connect, free_port
from hitl_web.workflow import Client, Run, RunStatus

ROOT = Path(__file__).resolve().parent.parent
TEST_MODULES = ("hitl_web.workflows", "tests.flows")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real Redis for the session, stopped by pid at the end."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    os.environ["REDIS_URL"] = server.url  # tests.flows, in this process, reads it
    yield server
    server.stop()


@pytest.fixture
def settings(redis_server: EmbeddedRedis) -> Settings:
    """Settings with a prefix and queue of this test's own, short leases and a fast sweep."""
    name = f"t{uuid.uuid4().hex[:10]}"
    return Settings(
        redis_url=redis_server.url,
        key_prefix=name,
        queue_name=name,
        lease_seconds=2.0,
        sweep_interval=0.05,
        workflow_modules=TEST_MODULES,
    )


@pytest.fixture
def rconn(redis_server: EmbeddedRedis) -> redis.Redis:
    """A text-mode client on the test Redis."""
    return redis.Redis.from_url(redis_server.url, decode_responses=True)


@pytest.fixture
def client(settings: Settings) -> Client:
    """The engine's client on this test's namespace."""
    return Client(connect(settings.redis_url), settings)


def worker_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a worker process of this test."""
    env = dict(os.environ)
    env.update(
        {
            "REDIS_URL": settings.redis_url,
            "HITL_KEY_PREFIX": settings.key_prefix,
            "HITL_QUEUE_NAME": settings.queue_name,
            "HITL_LEASE_SECONDS": str(settings.lease_seconds),
            "HITL_SWEEP_INTERVAL": str(settings.sweep_interval),
            "HITL_WORKFLOW_MODULES": ",".join(settings.workflow_modules),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra or {})
    return env


class Workers:
    """Starts and stops real ``rq worker`` processes for one test."""

    def __init__(self, settings: Settings, tmp: Path) -> None:
        self.settings = settings
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int = 1, extra_env: dict[str, str] | None = None) -> list[subprocess.Popen[bytes]]:
        started = []
        for _ in range(n):
            log = open(self.tmp / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115 (kept for the process)
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rq.cli",
                    "worker",
                    "--worker-class",
                    "hitl_web.workflow.worker.Worker",
                    "--url",
                    self.settings.redis_url,
                    "--name",
                    f"{self.settings.queue_name}-{uuid.uuid4().hex[:6]}",
                    self.settings.queue_name,
                ],
                env=worker_env(self.settings, extra_env),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.procs.append(proc)
            started.append(proc)
        return started

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("worker-*.log")))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def workers(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Workers]:
    """Real worker processes; all stopped after the test (their logs shown when it failed)."""
    w = Workers(settings, tmp_path)
    yield w
    w.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        sys.stderr.write("--- worker logs (last 6000 characters) ---\n" + w.logs()[-6000:])


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.02) -> object:
    """Poll ``predicate`` until it is truthy, or fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_for_status(client: Client, run_id: str, *statuses: RunStatus, timeout: float = 20.0) -> Run:
    """Poll until the run reaches one of ``statuses``; returns it."""

    def reached() -> Run | None:
        run = client.get_run(run_id)
        return run if run.status in statuses else None

    return wait_until(reached, timeout)  # type: ignore[return-value]


class WebServer:
    """A real gunicorn ``web`` process (the Procfile's settings) on a free port."""

    def __init__(self, settings: Settings, tmp: Path, extra_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.tmp = tmp
        self.port = free_port()
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebServer:
        env = worker_env(self.settings, {"PORT": str(self.port), "SECRET_KEY": "test-secret", **self.extra_env})
        log = open(self.tmp / f"web-{self.port}-{self.starts}.log", "wb")  # noqa: SIM115 (kept for the process)
        self.starts += 1
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:hitl_web.gunicorn_conf", "hitl_web:create_app()"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.logs()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("gunicorn did not answer /healthz in 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("web-*.log")))


@pytest.fixture
def web(settings: Settings, tmp_path: Path, workers: Workers, request: pytest.FixtureRequest) -> Iterator[WebServer]:
    """A real gunicorn web process and one real worker, on this test's namespace."""
    workers.start(1)
    server = WebServer(settings, tmp_path).start()
    yield server
    server.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        sys.stderr.write("--- web logs (last 6000 characters) ---\n" + server.logs()[-6000:])


@pytest.fixture
def app(settings: Settings) -> Flask:
    """The Flask app on this test's namespace (for the test client)."""
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "SETTINGS": settings})
