"""Real parts for every test: a redis-server on a free port, and real RQ worker processes."""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from hitl_web import create_app
from hitl_web.connections import connect
from hitl_web.devtools.embedded_redis import EmbeddedRedis
from hitl_web.engine import Client, Run, RunStatus
from hitl_web.settings import Settings
from hitl_web.stack import ROOT, TEST_SECRET, WebServer, Workers, process_env

worker_env = process_env  # the environment of a test's worker and web processes
__all__ = ["PASSWORD", "ROOT", "TEST_SECRET", "WebServer", "Workers", "csrf", "signed_in", "worker_env"]
PASSWORD = "correct horse battery"  # every test approver's


def csrf(http: FlaskClient, path: str = "/") -> str:
    """The CSRF token of ``http``'s session, read from the page at ``path``."""
    page = http.get(path).get_data(as_text=True)
    return re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)  # type: ignore[union-attr]


def signed_in(app: Flask, name: str | None) -> FlaskClient:
    """A browser-like test client, signed in as the approver ``name`` (None: a visitor)."""
    http = app.test_client()
    if name is not None:
        resp = http.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf(http, "/login")})
        assert resp.status_code == 303
    return http


TEST_MODULES = ("hitl_web.examples", "tests.flows", "tests.lifecycle_flows")


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


def running_web(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebServer]:
    """A real gunicorn web process for a fixture to yield; its logs are shown when the test failed."""
    server = WebServer(settings, tmp_path).start()
    yield server
    server.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        sys.stderr.write("--- web logs (last 6000 characters) ---\n" + server.logs()[-6000:])


@pytest.fixture
def web(settings: Settings, tmp_path: Path, workers: Workers, request: pytest.FixtureRequest) -> Iterator[WebServer]:
    """A real gunicorn web process and one real worker, on this test's namespace."""
    workers.start(1)
    yield from running_web(settings, tmp_path, request)


@pytest.fixture
def app(settings: Settings) -> Flask:
    """The Flask app on this test's namespace (for the test client)."""
    return create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": True})
