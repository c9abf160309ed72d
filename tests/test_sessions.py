"""Sign-ins that can be taken back, sign-in throttling, the origin and Host checks, and weak production settings."""

from __future__ import annotations

import http.cookiejar
import re
import secrets
import statistics
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hitl_web import create_app
from hitl_web.engine import Client, RunStatus
from hitl_web.settings import Settings
from hitl_web.stack import WebServer
from hitl_web.web.auth import Approvers
from hitl_web.web.security import same_origin
from tests.conftest import TEST_SECRET, Workers, wait_for_status

PASSWORD = "correct horse battery"


def production(settings: Settings, **config: Any) -> Flask:
    """The app as production runs it: approvers sign in to decide."""
    base = {"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": False}
    return create_app({**base, **config})


def csrf(http: FlaskClient, path: str = "/login") -> str:
    page = http.get(path).get_data(as_text=True)
    return re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)  # type: ignore[union-attr]


def sign_in(app: Flask, name: str, password: str = PASSWORD, **environ: str) -> Any:
    http = app.test_client()
    http.environ_base.update(environ)
    return http, http.post("/login", data={"name": name, "password": password, "csrf_token": csrf(http)})


def copy_of(app: Flask, http: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``http``'s session cookie (what a stolen cookie is)."""
    cookie = http.get_cookie("session")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    return other


def decides(http: FlaskClient, run_id: str) -> int:
    token = csrf(http, f"/runs/{run_id}")
    resp = http.post(f"/runs/{run_id}/approvals/0", data={"decision": "approve", "csrf_token": token})
    return resp.status_code


@pytest.fixture
def guarded_run(workers: Workers, client: Client) -> str:
    workers.start(1)
    run_id = client.trigger("guarded", triggered_by="carol")
    wait_for_status(client, run_id, RunStatus.WAITING)
    return run_id


def test_sign_out_removal_and_a_new_password_end_copied_sessions(
    settings: Settings, client: Client, guarded_run: str
) -> None:
    app = production(settings)
    approvers = Approvers(client.store.redis, settings.key_prefix)
    approvers.add("alice", PASSWORD)

    for end in ("sign-out", "removal", "new password"):
        alice, resp = sign_in(app, "alice")
        assert resp.status_code == 303
        stolen = copy_of(app, alice)
        assert "signed in as" in stolen.get("/").get_data(as_text=True)  # the copy works, for now
        if end == "sign-out":
            alice.post("/logout", data={"csrf_token": csrf(alice, "/")})
        elif end == "removal":
            approvers.remove("alice")
        else:
            approvers.add("alice", "a brand new password")
        page = stolen.get("/").get_data(as_text=True)
        assert "signed in as" not in page and "visiting as" in page, end
        assert decides(stolen, guarded_run) == 403, end  # "Sign in as an approver to decide."
        run = client.get_run(guarded_run)
        assert run.status is RunStatus.WAITING and run.steps[0].receipt is None
        approvers.add("alice", PASSWORD)


def test_sessions_have_an_idle_and_an_absolute_lifetime(settings: Settings, client: Client) -> None:
    Approvers(client.store.redis, settings.key_prefix).add("alice", PASSWORD)
    idle = production(settings, SESSION_IDLE_SECONDS=1.0)
    alice, _ = sign_in(idle, "alice")
    for _ in range(3):  # in use: kept alive past the idle lifetime
        time.sleep(0.5)
        assert "signed in as" in alice.get("/").get_data(as_text=True)
    time.sleep(1.6)
    assert "signed in as" not in alice.get("/").get_data(as_text=True)

    short = production(settings, SESSION_MAX_SECONDS=1.5)
    alice, _ = sign_in(short, "alice")
    for _ in range(2):
        assert "signed in as" in alice.get("/").get_data(as_text=True)
        time.sleep(0.5)
    time.sleep(1.0)
    assert "signed in as" not in alice.get("/").get_data(as_text=True)


def test_session_cookies_are_secure_in_production(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_ENV", "production")
    resp = production(settings).test_client().get("/login")
    assert "; Secure" in resp.headers["Set-Cookie"]
    monkeypatch.setenv("HITL_COOKIE_SECURE", "false")
    assert "; Secure" not in production(settings).test_client().get("/login").headers["Set-Cookie"]
    monkeypatch.setenv("HITL_ENV", "development")
    monkeypatch.delenv("HITL_COOKIE_SECURE")
    assert "; Secure" not in production(settings).test_client().get("/login").headers["Set-Cookie"]


def test_wrong_passwords_are_throttled_per_account_and_address_in_every_process(
    settings: Settings, client: Client
) -> None:
    Approvers(client.store.redis, settings.key_prefix).add("alice", PASSWORD)
    one, two = production(settings), production(settings)  # two web processes share the counts
    for attempt in range(6):  # 5 free tries, and the one that starts the first wait
        _, resp = sign_in(one if attempt % 2 else two, "alice", "wrong password")
        assert resp.status_code == 401
    for app in (one, two):
        _, resp = sign_in(app, "alice")  # meanwhile even the right password waits its turn
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
        assert "Too many wrong passwords" in resp.get_data(as_text=True)
    time.sleep(int(resp.headers["Retry-After"]) + 0.2)
    _, resp = sign_in(one, "alice")
    assert resp.status_code == 303

    # One address spraying many names is throttled too; another address is not.
    for n in range(21):
        _, resp = sign_in(one, f"name{n}", "wrong password", REMOTE_ADDR="10.9.8.7")
        assert resp.status_code == 401
    _, resp = sign_in(one, "alice", PASSWORD, REMOTE_ADDR="10.9.8.7")
    assert resp.status_code == 429
    _, resp = sign_in(one, "alice", PASSWORD, REMOTE_ADDR="10.9.8.6")
    assert resp.status_code == 303


def test_a_parallel_burst_of_wrong_passwords_gets_only_the_free_tries(settings: Settings, client: Client) -> None:
    Approvers(client.store.redis, settings.key_prefix).add("alice", PASSWORD)
    app = production(settings)
    tries = [app.test_client() for _ in range(40)]
    tokens = [csrf(http) for http in tries]
    barrier = threading.Barrier(len(tries))
    codes: list[int] = []

    def one(http: FlaskClient, token: str) -> None:
        barrier.wait()
        data = {"name": "alice", "password": "wrong password", "csrf_token": token}
        codes.append(http.post("/login", data=data).status_code)

    threads = [threading.Thread(target=one, args=pair) for pair in zip(tries, tokens, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # Checked before counting, all 40 would be hashed (all 401); counted first, the 5 free tries and
    # the one that starts the first wait are.
    assert sorted(codes) == [401] * 6 + [429] * 34, codes


def _login_attempts(base: str, names: list[str]) -> None:
    for name in names:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = opener.open(f"{base}/login", timeout=30).read().decode()
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)  # type: ignore[union-attr]
        body = urllib.parse.urlencode({"name": name, "password": "wrong password", "csrf_token": token}).encode()
        try:
            opener.open(f"{base}/login", body, timeout=30)
        except urllib.error.HTTPError as err:
            assert err.code == 401


def test_password_hashing_does_not_stall_the_web_process(settings: Settings, tmp_path: Path) -> None:
    env = {
        "HITL_ENV": "production",
        "HITL_COOKIE_SECURE": "false",
        "HITL_SIGNIN_FAILURES_PER_ADDRESS": "100000",
        "HITL_SIGNIN_FAILURES_PER_ACCOUNT": "100000",
    }
    web = WebServer(settings, tmp_path, env).start()
    try:
        burst = [
            threading.Thread(target=_login_attempts, args=(web.url, [f"u{t}-{i}" for i in range(6)])) for t in range(8)
        ]
        for t in burst:
            t.start()
        time.sleep(0.3)
        samples = []
        while any(t.is_alive() for t in burst) and len(samples) < 200:
            started = time.perf_counter()
            with urllib.request.urlopen(f"{web.url}/healthz", timeout=30) as resp:
                assert resp.status == 200
            samples.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)
        for t in burst:
            t.join(60)
    finally:
        web.stop()
    print(f"\n/healthz during the burst: p50 {statistics.median(samples):.1f} ms over {len(samples)}")
    assert len(samples) >= 5, "the burst of sign-ins ended before it could be measured"
    # Hashed on the event loop, /healthz waits behind the queued ~80 ms checks: p50 1,067-1,197 ms in
    # this burst on a loaded 2-core machine, against 100-115 ms with the hash on a thread.
    assert statistics.median(samples) < 400, f"/healthz p50 {statistics.median(samples):.1f} ms during the burst"


def test_origins_compare_scheme_host_and_port(settings: Settings) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": settings, "OPEN_MODE": True})
    cases = [
        ("http://localhost:5000", {}, True),
        ("http://localhost:8080", {}, False),  # another port on the same host: another site
        ("https://localhost:5000", {}, False),  # another scheme
        ("http://evil.example:5000", {}, False),
        ("https://localhost", {"X-Forwarded-Proto": "https", "Host": "localhost"}, True),  # behind a TLS proxy
        ("http://localhost", {"X-Forwarded-Proto": "https", "Host": "localhost"}, False),
    ]
    for origin, headers, allowed in cases:
        all_headers = {"Host": "localhost:5000", "Origin": origin, **headers}
        with app.test_request_context("/ws/index", headers=all_headers):
            assert same_origin() is allowed, (origin, headers)
    resp = app.test_client().get("/ws/index", headers={"Origin": "http://localhost:8080"})
    assert resp.status_code == 403


def test_host_header_is_checked(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_ENV", "development")
    local = create_app({"TESTING": True, "SETTINGS": settings, "OPEN_MODE": True}).test_client()
    assert local.get("/", headers={"Host": "127.0.0.1:5000"}).status_code == 200
    assert local.get("/", headers={"Host": "localhost:5000"}).status_code == 200
    # A name that resolves to 127.0.0.1 (DNS rebinding) is not this server's.
    assert local.get("/", headers={"Host": "rebind.evil.example:5000"}).status_code == 400
    monkeypatch.setenv("HITL_WEB_HOST", "192.0.2.10")  # `hitl-web dev --host 192.0.2.10`
    lan = create_app({"TESTING": True, "SETTINGS": settings, "OPEN_MODE": True}).test_client()
    assert lan.get("/", headers={"Host": "192.0.2.10:5000"}).status_code == 200
    monkeypatch.delenv("HITL_WEB_HOST")
    monkeypatch.setenv("HITL_ENV", "production")
    monkeypatch.setenv("HITL_ALLOWED_HOSTS", "approvals.example.com")
    prod = production(settings).test_client()
    assert prod.get("/login", headers={"Host": "approvals.example.com"}).status_code == 200
    assert prod.get("/login", headers={"Host": "other.example.com"}).status_code == 400


def test_weak_production_settings_do_not_start(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_ENV", "production")
    for weak in ("x", "a" * 64, "abababababababababababababababab", "short-but-random-9f3"):
        with pytest.raises(RuntimeError, match="too weak"):
            create_app({"SETTINGS": settings, "SECRET_KEY": weak})
    create_app({"SETTINGS": settings, "SECRET_KEY": secrets.token_hex(32)})
    create_app({"SETTINGS": settings, "SECRET_KEY": secrets.token_urlsafe(32)})
    # Only documented settings are read: an undocumented HITL_OPEN_MODE does not open production.
    monkeypatch.setenv("HITL_OPEN_MODE", "true")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    app = create_app({"SETTINGS": settings})
    assert app.config["OPEN_MODE"] is False
    assert "Local mode" not in app.test_client().get("/login").get_data(as_text=True)


def test_an_open_live_page_closes_once_its_sign_in_ends(settings: Settings, client: Client, tmp_path: Path) -> None:
    import simple_websocket

    Approvers(client.store.redis, settings.key_prefix).add("alice", PASSWORD)
    env = {"HITL_ENV": "production", "HITL_REQUIRE_LOGIN_TO_VIEW": "true", "HITL_COOKIE_SECURE": "false"}
    web = WebServer(settings, tmp_path, env).start()
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{web.url}/login", timeout=10).read().decode()
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)  # type: ignore[union-attr]
        body = urllib.parse.urlencode({"name": "alice", "password": PASSWORD, "csrf_token": token}).encode()
        opener.open(f"{web.url}/login", body, timeout=10)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        url = f"ws://127.0.0.1:{web.port}/ws/index?after=0-0"
        ws = simple_websocket.Client.connect(url, headers={"Cookie": cookie})  # signed in: let through
        assert ws.receive(timeout=1) is None and ws.connected
        Approvers(client.store.redis, settings.key_prefix).remove("alice")  # ends her sessions everywhere
        started = time.monotonic()
        with pytest.raises(simple_websocket.ConnectionClosed) as closed:
            while time.monotonic() - started < 30:
                ws.receive(timeout=1)
        assert closed.value.reason == 1008
    finally:
        web.stop()
