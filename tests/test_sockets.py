"""The live sockets against a real gunicorn web process: catch-up from a stream id, and 1012 on restart."""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.request

import simple_websocket
from flask import Flask

from hitl_web.engine import Client, RunStatus
from hitl_web.engine.journal import Journal
from hitl_web.live import Realtime
from tests.conftest import WebServer, wait_for_status, wait_until


def page_after(web: WebServer, run_id: str) -> str:
    """The stream id the run page was rendered at (from its ws-connect URL)."""
    with urllib.request.urlopen(f"{web.url}/runs/{run_id}") as resp:
        html = resp.read().decode()
    match = re.search(r'ws-connect="/ws/runs/[^"?]+\?after=([0-9-]+)"', html)
    assert match, "the run page connects its socket from the render's stream id"
    return match.group(1)


def connect(web: WebServer, path: str) -> simple_websocket.Client:
    return simple_websocket.Client.connect(f"ws://127.0.0.1:{web.port}{path}")


def status_in(fragment: str) -> str:
    match = re.search(r'id="run-status"[^>]*data-status="(\w+)"', fragment)
    assert match, fragment[:300]
    return match.group(1)


def test_socket_catches_up_from_the_render_id_then_follows(web: WebServer, client: Client) -> None:
    run_id = client.trigger("human-in-loop", {"userId": "u", "action": "a"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    # The run shows waiting (wait.lua) a moment before its waitingForInput entry is journaled (the
    # worker appends what the execution announced after its last write): render after both, so that
    # nothing happens between the render and the connect.
    channel = Realtime(client.store.redis, client.settings.key_prefix).channel(run_id)
    wait_until(lambda: any(e.name == "workflow.waitingForInput" for _, e in channel.history()))
    after = page_after(web, run_id)
    # Nothing happened since the render: the socket stays quiet (no duplicate of what the page shows).
    ws = connect(web, f"/ws/runs/{run_id}?after={after}")
    try:
        assert ws.receive(timeout=0.5) is None
        client.notify(f"approval-{run_id}", {"approved": True}, run_id)
        fragments = []
        while not fragments or status_in(fragments[-1]) != "completed":
            message = ws.receive(timeout=10)
            assert message is not None, "a pushed fragment for every change"
            fragments.append(message)
        assert 'hx-swap-oob="true"' in fragments[-1] and "Workflow finished: approved" in fragments[-1]
    finally:
        ws.close()
    # Reconnecting with the old render id (as the htmx extension does) catches up in one push.
    ws = connect(web, f"/ws/runs/{run_id}?after={after}")
    try:
        caught_up = ws.receive(timeout=5)
        assert caught_up is not None and status_in(caught_up) == "completed"
        assert ws.receive(timeout=0.5) is None
    finally:
        ws.close()


def test_socket_closes_with_1012_when_web_stops(web: WebServer, client: Client) -> None:
    run_id = client.trigger("human-in-loop")
    wait_for_status(client, run_id, RunStatus.WAITING)
    ws = connect(web, f"/ws/runs/{run_id}?after={page_after(web, run_id)}")
    time.sleep(0.2)
    web.stop()
    deadline = time.monotonic() + 10
    while ws.connected and time.monotonic() < deadline:
        try:
            ws.receive(timeout=0.2)
        except simple_websocket.ConnectionClosed:
            break
    assert ws.close_reason == 1012


def test_socket_for_unknown_run_is_refused(web: WebServer) -> None:
    ws = connect(web, "/ws/runs/wfr_nope?after=0-0")
    with contextlib.suppress(simple_websocket.ConnectionClosed):
        ws.receive(timeout=5)
    assert ws.close_reason == 1008


def test_index_socket_pushes_lists(web: WebServer, client: Client) -> None:
    ws = connect(web, f"/ws/index?after={Realtime(client.store.redis, client.settings.key_prefix).last_all_id()}")
    try:
        run_id = client.trigger("human-in-loop", {"userId": "u", "action": "needs you"})
        fragment = ""
        while "needs you" not in fragment:
            message = ws.receive(timeout=10)
            assert message is not None
            fragment = message
        assert 'id="waiting"' in fragment and run_id in fragment and 'id="runs"' in fragment
        with urllib.request.urlopen(f"{web.url}/healthz") as resp:
            assert json.loads(resp.read())["sockets"] == 1  # this socket, counted by the process's hub
    finally:
        ws.close()


def test_an_idle_hub_keeps_reading_without_errors(web: WebServer, client: Client) -> None:
    """Nothing happens for longer than redis-py's 5 s socket timeout: the hub's read never fails, and still pushes."""
    ws = connect(web, f"/ws/index?after={Realtime(client.store.redis, client.settings.key_prefix).last_all_id()}")
    try:
        time.sleep(6.5)
        client.trigger("human-in-loop", {"userId": "u", "action": "after a quiet while"})
        fragment = ""
        while "after a quiet while" not in fragment:
            message = ws.receive(timeout=10)
            assert message is not None
            fragment = message
    finally:
        ws.close()
    assert "hub read failed" not in web.logs()


def test_the_hub_renders_pushes_over_a_connection_of_its_own(app: Flask, client: Client) -> None:
    """A push reads its run with the hub's reader, a client pinned to one Redis connection (no pool checkout)."""
    hub = app.extensions["hitl_hub"]
    readers: list[object] = []

    def render(reader: Client | None) -> str:
        readers.append(reader)
        return "pushed"

    run_id = client.trigger("counted")
    sub = hub.subscribe(run_id, render)
    try:
        time.sleep(0.2)  # the hub's reader thread starts and reads from the stream's end
        Journal(client.store.redis, client.settings.key_prefix).append(
            run_id, "workflow.stepStart", {"stepName": "one", "index": 0}
        )
        push = sub.get(5)
        assert push is not None and push[1] == "pushed"
    finally:
        sub.close()
        hub.close()
    reader = readers[0]
    assert isinstance(reader, Client) and reader is not app.extensions["hitl"]
    assert reader.store.redis.connection is not None  # a single-connection client
    assert reader.get_run(run_id).run_id == run_id
