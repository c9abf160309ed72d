"""What one client can make a web process hold over WebSockets: bounded messages, bounded sockets.

Against a real gunicorn web process; its memory is the worker process's VmRSS.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import simple_websocket

from hitl_web.settings import Settings
from hitl_web.web.sockets import MAX_MESSAGE_BYTES
from tests.conftest import WebServer, wait_until

MB = 1024 * 1024
GROWTH_BOUND = 60 * MB  # while a client floods the process
SETTLED_BOUND = 25 * MB  # after the client has gone


def gunicorn_worker(web: WebServer) -> int:
    """The pid of the web process's (only) gunicorn worker: the child of its master."""
    assert web.proc is not None
    master = web.proc.pid
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{entry}/status").read_text()
                if f"\nPPid:\t{master}\n" in status:
                    return int(entry)
    raise AssertionError(f"gunicorn master {master} has no worker")


def rss(pid: int) -> int:
    """The resident memory of ``pid``, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """Samples a process's RSS every 10 ms in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss(pid)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.done.wait(0.01):
            self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def connect(web: WebServer, path: str = "/ws/index?after=0-0") -> simple_websocket.Client:
    """A WebSocket client on ``path`` of ``web``."""
    return simple_websocket.Client.connect(f"ws://127.0.0.1:{web.port}{path}")


def healthz(web: WebServer) -> dict[str, object]:
    """The web process's /healthz answer (it must be 200)."""
    with urllib.request.urlopen(web.url + "/healthz", timeout=5) as resp:
        assert resp.status == 200
        return json.loads(resp.read())  # type: ignore[no-any-return]


def flood(ws: simple_websocket.Client, frames: int, size: int) -> int:
    """Send ``frames`` binary messages of ``size`` bytes; how many went out before the server closed."""
    payload = os.urandom(size)
    for sent in range(frames):
        try:
            ws.send(payload)
        except (simple_websocket.ConnectionClosed, OSError):
            return sent
    return frames


def baseline(web: WebServer, pid: int) -> int:
    """The worker's RSS once sockets have come and gone (hub thread started, templates rendered)."""
    for _ in range(3):
        ws = connect(web)
        ws.receive(timeout=0.3)
        ws.close()
    time.sleep(0.5)
    return rss(pid)


def settle(pid: int, limit: int, timeout: float = 15.0) -> int:
    """Wait until the RSS is at most ``limit`` (or the timeout); returns the last reading."""
    deadline = time.monotonic() + timeout
    while (now := rss(pid)) > limit and time.monotonic() < deadline:
        time.sleep(0.1)
    return now


@pytest.fixture
def web_limited(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebServer]:
    """A real gunicorn web process; a test's ``@pytest.mark.parametrize("env", ...)`` sets its environment."""
    env: dict[str, str] = getattr(request, "param", {})
    server = WebServer(settings, tmp_path, env).start()
    yield server
    server.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("--- web logs ---\n" + server.logs()[-6000:])


def test_megabyte_frames_close_the_socket_and_memory_stays_bounded(web_limited: WebServer) -> None:
    """150 frames of 1 MB to /ws/index: closed with 1009 (too big) at once, the worker grows < 60 MB, then settles."""
    pid = gunicorn_worker(web_limited)
    before = baseline(web_limited, pid)
    ws = connect(web_limited)
    with PeakRss(pid) as peak:
        sent = flood(ws, 150, MB)
        deadline = time.monotonic() + 5
        with contextlib.suppress(simple_websocket.ConnectionClosed):
            while ws.connected and time.monotonic() < deadline:
                ws.receive(timeout=0.5)
    print(f"1 MB frames: sent {sent}, close {ws.close_reason}, RSS {before / MB:.0f} -> peak {peak.peak / MB:.0f} MB")
    assert peak.peak - before < GROWTH_BOUND, f"RSS {before / MB:.0f} -> {peak.peak / MB:.0f} MB"
    assert sent < 150, "the server closed the socket long before 150 MB had been taken in"
    assert not ws.connected
    # 1009 when the close frame arrived before our unread frames made the kernel reset the connection.
    assert ws.close_reason in (1009, 1005, 1006), ws.close_reason
    after = settle(pid, before + SETTLED_BOUND)
    print(f"RSS after close: {after / MB:.0f} MB")
    assert after - before < SETTLED_BOUND
    assert healthz(web_limited)["ok"] is True


def test_small_frames_are_dropped_as_they_arrive(web_limited: WebServer) -> None:
    """4,000 frames just under the limit (60 MB in all): the socket stays open, nothing piles up in the worker."""
    pid = gunicorn_worker(web_limited)
    before = baseline(web_limited, pid)
    ws = connect(web_limited)
    started = time.monotonic()
    with PeakRss(pid) as peak:
        sent = flood(ws, 4000, MAX_MESSAGE_BYTES - 1024)
        time.sleep(0.5)  # the worker takes in what is still in flight
    took = time.monotonic() - started
    print(f"small frames: sent {sent} in {took:.1f} s, RSS {before / MB:.0f} -> peak {peak.peak / MB:.0f} MB")
    assert sent == 4000 and ws.connected, "a message under the limit does not close the socket"
    assert peak.peak - before < 30 * MB, f"RSS {before / MB:.0f} -> {peak.peak / MB:.0f} MB"
    ws.close()
    assert settle(pid, before + SETTLED_BOUND) - before < SETTLED_BOUND
    wait_until(lambda: healthz(web_limited)["sockets"] == 0, timeout=5)  # the closed socket's handler ended


def refused_status(web: WebServer, path: str = "/ws/index?after=0-0") -> int | None:
    """The HTTP status that refused a handshake on ``path``, or None (and the socket closed) when accepted."""
    try:
        ws = connect(web, path)
    except simple_websocket.ConnectionError as exc:
        return int(exc.status_code)
    ws.close()
    return None


@pytest.mark.parametrize("web_limited", [{"HITL_MAX_SOCKETS_PER_ADDRESS": "5"}], indirect=True)
def test_one_address_gets_at_most_its_share_of_sockets(web_limited: WebServer) -> None:
    """Past HITL_MAX_SOCKETS_PER_ADDRESS handshakes get 429, /healthz answers, a closed socket frees its slot."""
    # Sockets refused by their handler (an unknown run: 1008) give their slot back too.
    for _ in range(6):
        ws = connect(web_limited, "/ws/runs/wfr_nope?after=0-0")
        with contextlib.suppress(simple_websocket.ConnectionClosed):
            ws.receive(timeout=5)
        assert ws.close_reason == 1008
    held = [connect(web_limited) for _ in range(5)]
    try:
        wait_until(lambda: healthz(web_limited)["sockets"] == 5, timeout=5)
        assert [refused_status(web_limited) for _ in range(3)] == [429, 429, 429]
        health = healthz(web_limited)
        assert health["ok"] is True and health["sockets"] == 5
        held.pop().close()
        # The handler of the closed socket ends at once (not at its next idle check, 10 s later).
        wait_until(lambda: healthz(web_limited)["sockets"] == 4, timeout=3)
        held.append(connect(web_limited))
        assert refused_status(web_limited) == 429
    finally:
        for ws in held:
            ws.close()


@pytest.mark.parametrize("web_limited", [{"HITL_MAX_SOCKETS": "3"}], indirect=True)
def test_a_full_process_refuses_sockets_and_keeps_answering(web_limited: WebServer) -> None:
    """Past HITL_MAX_SOCKETS the handshake is refused with 503; pages and /healthz still answer."""
    held = [connect(web_limited) for _ in range(3)]
    try:
        assert refused_status(web_limited) == 503
        assert healthz(web_limited)["ok"] is True
        with urllib.request.urlopen(web_limited.url + "/", timeout=5) as resp:
            assert resp.status == 200
    finally:
        for ws in held:
            ws.close()
