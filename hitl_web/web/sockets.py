"""Live pages: WebSockets that push out-of-band fragments whenever a run's stream moves on."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from typing import Any

import redis
from flask import Flask, abort, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask_sock import Sock

from ..engine import Client, RunNotFound
from ..live.channel import newer
from ..live.hub import CLOSE, EVERY_RUN, Hub
from ..metrics import instruments
from .fragments import inbox_fragments, index_fragments, run_fragments
from .security import current_viewer, same_origin, signed_in
from .state import client, realtime
from .viewer import with_groups

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
# Pages never send anything over their socket: a larger message closes it with 1009 (too big), and
# smaller ones are dropped as they arrive. Unread, 3 x 150 frames of 1 MB grew the process by 450 MB.
MAX_MESSAGE_BYTES = 16 * 1024
WAKE = object()  # put in a socket's inbox by its reader thread: a frame came, or the socket closed


def hub() -> Hub:
    """This process's hub (one per app)."""
    return current_app.extensions["hitl_hub"]  # type: ignore[no-any-return]


def shutdown(app: Any) -> None:
    """Close every live socket of ``app`` with 1012 (called on SIGTERM), once."""
    if SHUTDOWN.is_set():
        # A second stop signal (gunicorn's and the supervisor's), perhaps inside the first one's handler
        # while it holds the hub's lock: waiting for that lock in a signal frame raises gevent's
        # BlockingSwitchOutError. The first one is closing the sockets already.
        return
    SHUTDOWN.set()
    app_hub = getattr(app, "extensions", {}).get("hitl_hub")
    if app_hub is not None:
        app_hub.close()


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


class SocketSlots:
    """This process's open sockets, in all and per client address, each count with a ceiling."""

    def __init__(self, per_process: int, per_address: int) -> None:
        self.per_process = per_process
        self.per_address = per_address
        self.lock = threading.Lock()
        self.total = 0
        self.by_address: dict[str, int] = {}

    def take(self, address: str) -> int | None:
        """Count one more socket from ``address``; or the HTTP status that refuses it (429, 503)."""
        with self.lock:
            if self.by_address.get(address, 0) >= self.per_address:
                return 429  # one client (or everyone behind one proxy) holds too many
            if self.total >= self.per_process:
                return 503  # this process is full: another one, or later
            self.by_address[address] = self.by_address.get(address, 0) + 1
            self.total += 1
            return None

    def give_back(self, address: str) -> None:
        """A socket from ``address`` has closed."""
        with self.lock:
            self.total -= 1
            left = self.by_address.pop(address, 1) - 1
            if left > 0:
                self.by_address[address] = left


def _configure(state: BlueprintSetupState) -> None:
    config = state.app.config  # HITL_MAX_SOCKETS... (web_config), or a test's own limits (test_config)
    state.app.extensions["hitl_socket_slots"] = SocketSlots(config["MAX_SOCKETS"], config["MAX_SOCKETS_PER_ADDRESS"])


def slots(app: Flask | None = None) -> SocketSlots:
    """The open-socket counts of ``app`` (default: the current one)."""
    return (app or current_app).extensions["hitl_socket_slots"]  # type: ignore[no-any-return]


def _take_slot() -> None:
    # Before the handshake (after refuse_foreign_sockets, an app-wide hook): refused, no socket is made.
    address = request.remote_addr or ""
    refused = slots().take(address)
    if refused is not None:
        abort(refused, description="too many open sockets: try again later")
    g.hitl_socket_address = address


def _give_back_slot(exc: BaseException | None) -> None:
    # The request context of a socket ends when its handler returns, however it ends.
    address = g.pop("hitl_socket_address", None)
    if address is not None:
        slots().give_back(address)


class _Dropped(list[object]):
    """Takes the place of a socket's input buffer: every message is dropped as its reader receives it."""

    def append(self, message: object, /) -> None:
        """Drop ``message``."""


class _Wake:
    """Takes the place of a socket's event, which its reader sets on each message and on the close."""

    def __init__(self, inbox: queue.Queue[object]) -> None:
        self.inbox = inbox

    def set(self) -> None:
        """Wake the handler, waiting on its hub subscription: a closed socket then ends at once."""
        self.inbox.put(WAKE)


def _drop_incoming(ws: Any) -> None:
    # Our handlers never call ws.receive(): what a browser sends (nothing, from our pages) would pile
    # up in simple-websocket's input buffer for as long as the socket lives.
    ws.input_buffer = _Dropped()


def _follow(ws: Any, topic: str, after: str, newest: Any, render: Any, audience: str = "") -> None:
    """Push ``render(None)`` now if ``newest()`` is past ``after``, then after each batch of new events.

    The hub renders once per ``audience`` (viewers who see the same page) and batch of events.
    """
    try:
        _push_loop(ws, topic, after, newest, render, audience)
    except redis.RedisError as exc:
        log.warning("socket on %s closed, Redis failed: %s", topic, exc)
        ws.close(reason=TRY_AGAIN, message="store unavailable")


def _viewer_still_allowed() -> bool:
    """When viewers must sign in: whether this socket's sign-in still stands (signed out, removed...)."""
    if not current_app.config["REQUIRE_LOGIN_TO_VIEW"]:
        return True
    g.pop("session_checked", None)  # checked at the handshake: look again in Redis
    return signed_in()


def _push_loop(ws: Any, topic: str, after: str, newest: Any, render: Any, audience: str) -> None:
    sub = hub().subscribe(topic, render, audience)
    # Without this, a closed socket's handler (and its slot) lived until the next idle check.
    ws.event = _Wake(sub.inbox)
    open_sockets = instruments().sockets
    open_sockets.inc()
    try:
        sent = after
        newest_id = newest()
        if newer(newest_id, after):
            ws.send(render(None))  # catch up: one render holds everything since the page was drawn
            sent = newest_id
        recheck = time.monotonic() + IDLE_CHECK_SECONDS
        while ws.connected:
            if SHUTDOWN.is_set():
                ws.close(reason=RESTART, message="server restarting")
                return
            if time.monotonic() >= recheck:
                recheck = time.monotonic() + IDLE_CHECK_SECONDS
                if not _viewer_still_allowed():
                    ws.close(reason=POLICY_VIOLATION, message="signed out")
                    return
            push: Any = sub.get(IDLE_CHECK_SECONDS)
            if push is CLOSE:
                ws.close(reason=RESTART, message="server restarting")
                return
            if isinstance(push, tuple):
                event_id, fragment = push
                if newer(event_id, sent):  # older than what this socket already shows: skip
                    ws.send(fragment)
                    sent = event_id
    finally:
        open_sockets.dec()
        sub.close()


@sock.route("/ws/runs/<run_id>")  # type: ignore[untyped-decorator]
def run_socket(ws: Any, run_id: str) -> None:
    """A run's page: its status, approvals and steps, re-rendered on every event of its channel."""
    _drop_incoming(ws)
    c = client()
    try:
        c.get_run(run_id)
    except RunNotFound:
        ws.close(reason=POLICY_VIOLATION, message="no such run")
        return

    viewer = current_viewer()  # as the handshake's session says; their groups are read at each render

    def render(reader: Client | None) -> str:  # the hub's reader, or this socket's request's client
        c = reader or client()
        return run_fragments(c.get_run(run_id), with_groups(viewer, c))

    _follow(ws, run_id, _after(), realtime().channel(run_id).last_id, render, viewer.audience)


@sock.route("/ws/index")  # type: ignore[untyped-decorator]
def index_socket(ws: Any) -> None:
    """The index page's lists of recent and waiting runs, re-rendered when any run moves."""
    _drop_incoming(ws)

    def render(reader: Client | None) -> str:  # the hub's reader, or this socket's request's client
        return index_fragments(reader or client())

    _follow(ws, EVERY_RUN, _after(), realtime().last_all_id, render)


@sock.route("/ws/inbox")  # type: ignore[untyped-decorator]
def inbox_socket(ws: Any) -> None:
    """The inbox page's list and the header's count, re-rendered for this viewer when any run's asks move."""
    _drop_incoming(ws)
    viewer, workflow = current_viewer(), request.args.get("workflow", "")[:200]

    def render(reader: Client | None) -> str:  # the hub's reader, or this socket's request's client
        c = reader or client()
        return inbox_fragments(c, with_groups(viewer, c), workflow)

    # Each viewer's inbox is their own (their name, groups and filter): one render per viewer and filter.
    _follow(ws, EVERY_RUN, _after(), realtime().last_all_id, render, f"{viewer.name}\n{workflow}")


# The socket routes' own hooks (flask-sock's blueprint): the limits, read when it is registered.
sock.bp.record_once(_configure)
sock.bp.before_request(_take_slot)
sock.bp.teardown_request(_give_back_slot)
