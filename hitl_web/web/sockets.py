"""Live pages: WebSockets that push out-of-band fragments whenever a run's stream moves on."""

from __future__ import annotations

import re
import threading
from typing import Any

import redis
from flask import current_app, request
from flask_sock import Sock

from ..workflow import RunNotFound
from .fragments import index_fragments, run_fragments
from .state import client, realtime

sock = Sock()

# Set when the web process is told to stop: sockets then close with 1012 ("service restart"), which
# makes the htmx ws extension reconnect, to this process's successor or another one.
SHUTDOWN = threading.Event()
RESTART = 1012
TRY_AGAIN = 1011  # Redis unreachable: the htmx extension reconnects after 1011 too
POLICY_VIOLATION = 1008
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
BLOCK_MS = 1000


def _after() -> str:
    after = request.args.get("after", "0-0")
    return after if STREAM_ID.fullmatch(after) else "0-0"


def _newer(a: str, b: str) -> bool:
    """True when stream id ``a`` comes after ``b``."""
    return tuple(map(int, a.split("-"))) > tuple(map(int, b.split("-")))


def _follow(ws: Any, key: str, after: str, render: Any) -> None:
    """Push ``render()`` now if the stream moved past ``after``, then again after each batch of events."""
    try:
        _push_loop(ws, key, after, render)
    except redis.RedisError:
        ws.close(reason=TRY_AGAIN, message="store unavailable")


def _push_loop(ws: Any, key: str, after: str, render: Any) -> None:
    rt = realtime()
    newest: Any = rt.redis.xrevrange(key, count=1)
    last = after
    if newest:
        newest_id = newest[0][0].decode()
        if _newer(newest_id, after):
            ws.send(render())  # catch up: one render holds everything since the page was drawn
            last = newest_id
    while ws.connected:
        if SHUTDOWN.is_set():
            ws.close(reason=RESTART, message="server restarting")
            return
        batch = rt.read({key: last}, BLOCK_MS).get(key)
        if batch:
            last = batch[-1][0]
            ws.send(render())


@sock.route("/ws/runs/<run_id>")  # type: ignore[untyped-decorator]
def run_socket(ws: Any, run_id: str) -> None:
    """A run's page: its status, approvals and steps, re-rendered on every event of its channel."""
    c = client()
    try:
        c.get_run(run_id)
    except RunNotFound:
        ws.close(reason=POLICY_VIOLATION, message="no such run")
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def render() -> str:
        with app.app_context():
            return run_fragments(c.get_run(run_id))

    _follow(ws, realtime().stream_key(run_id), _after(), render)


@sock.route("/ws/index")  # type: ignore[untyped-decorator]
def index_socket(ws: Any) -> None:
    """The index page's lists of recent and waiting runs, re-rendered when any run moves."""
    c = client()
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def render() -> str:
        with app.app_context():
            return index_fragments(c)

    _follow(ws, realtime().all_key, _after(), render)
