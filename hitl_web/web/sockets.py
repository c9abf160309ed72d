"""Live pages: WebSockets that push out-of-band fragments whenever a run's stream moves on."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import redis
from flask import abort, current_app, request
from flask_sock import Sock

from ..realtime.channel import newer
from ..realtime.hub import CLOSE, EVERY_RUN, Hub
from ..workflow import Client, RunNotFound
from .fragments import index_fragments, run_fragments
from .security import same_origin, signed_in
from .state import client, realtime

sock = Sock()
log = logging.getLogger("hitl_web.sockets")

# Set when the web process is told to stop: sockets then close with 1012 ("service restart"), which
# makes the htmx ws extension reconnect, to this process's successor or another one.
SHUTDOWN = threading.Event()
RESTART = 1012
TRY_AGAIN = 1011  # Redis unreachable: the htmx extension reconnects after 1011 too
POLICY_VIOLATION = 1008
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
# How often an idle socket checks that its browser is still there.
IDLE_CHECK_SECONDS = 10.0


def hub() -> Hub:
    """This process's hub (one per app)."""
    return current_app.extensions["hitl_hub"]  # type: ignore[no-any-return]


def shutdown() -> None:
    """Close every live socket with 1012 (called on SIGTERM)."""
    SHUTDOWN.set()
    for app_hub in list(HUBS):
        app_hub.close()


HUBS: list[Hub] = []


def _after() -> str:
    after = request.args.get("after", "0-0")
    return after if STREAM_ID.fullmatch(after) else "0-0"


def refuse_foreign_sockets() -> None:
    """Before the WebSocket handshake: refuse (403) another origin, or a viewer who must sign in first."""
    if not request.path.startswith("/ws/"):
        return
    if not same_origin():
        abort(403, description="cross-origin WebSocket refused")
    if current_app.config["REQUIRE_LOGIN_TO_VIEW"] and not signed_in():
        abort(403, description="sign in to watch")


def _follow(ws: Any, topic: str, after: str, newest: Any, render: Any) -> None:
    """Push ``render(None)`` now if ``newest()`` is past ``after``, then after each batch of new events."""
    try:
        _push_loop(ws, topic, after, newest, render)
    except redis.RedisError as exc:
        log.warning("socket on %s closed, Redis failed: %s", topic, exc)
        ws.close(reason=TRY_AGAIN, message="store unavailable")


def _push_loop(ws: Any, topic: str, after: str, newest: Any, render: Any) -> None:
    sub = hub().subscribe(topic, render)
    try:
        sent = after
        newest_id = newest()
        if newer(newest_id, after):
            ws.send(render(None))  # catch up: one render holds everything since the page was drawn
            sent = newest_id
        while ws.connected:
            if SHUTDOWN.is_set():
                ws.close(reason=RESTART, message="server restarting")
                return
            push: Any = sub.get(IDLE_CHECK_SECONDS)
            if push is CLOSE:
                ws.close(reason=RESTART, message="server restarting")
                return
            if push is not None:
                event_id, fragment = push
                if newer(event_id, sent):  # older than what this socket already shows: skip
                    ws.send(fragment)
                    sent = event_id
    finally:
        sub.close()


@sock.route("/ws/runs/<run_id>")  # type: ignore[untyped-decorator]
def run_socket(ws: Any, run_id: str) -> None:
    """A run's page: its status, approvals and steps, re-rendered on every event of its channel."""
    c = client()
    try:
        c.get_run(run_id)
    except RunNotFound:
        ws.close(reason=POLICY_VIOLATION, message="no such run")
        return

    def render(reader: Client | None) -> str:  # the hub's reader, or this socket's request's client
        return run_fragments((reader or client()).get_run(run_id))

    _follow(ws, run_id, _after(), realtime().channel(run_id).last_id, render)


@sock.route("/ws/index")  # type: ignore[untyped-decorator]
def index_socket(ws: Any) -> None:
    """The index page's lists of recent and waiting runs, re-rendered when any run moves."""

    def render(reader: Client | None) -> str:  # the hub's reader, or this socket's request's client
        return index_fragments(reader or client())

    _follow(ws, EVERY_RUN, _after(), realtime().last_all_id, render)
