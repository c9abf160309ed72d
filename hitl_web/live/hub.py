"""One reader per process of the all-runs stream, fanning rendered pushes out to local sockets.

One blocking read per open socket does not scale inside a process; one reader does. The hub also
renders once per run, audience and batch of events: every socket of that audience on that run (all
of them in local mode; each signed-in approver's tabs; every visitor) gets the same fragment.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ..engine.outages import Backoff, outage
from .channel import STATUS_EVENTS, Realtime

log = logging.getLogger("hitl_web.hub")

# Renders a push, reading state with the hub's reader (``Hub.reader``; None: the caller's own).
Render = Callable[[Any], str]
CLOSE = object()  # pushed to every subscriber when the process stops
EVERY_RUN = "*"  # subscribe to status changes of every run (lists of runs)


class Subscription:
    """A socket's mailbox for one run's events (or every run's status changes)."""

    def __init__(self, hub: Hub, topic: str, render: Render, audience: str = "") -> None:
        self.hub = hub
        self.topic = topic
        self.render = render
        self.audience = audience  # subscribers who see the same page share one render
        self.inbox: queue.Queue[object] = queue.Queue()

    def get(self, timeout: float) -> object | None:
        """The next push (``(event id, fragment)``, or ``CLOSE``), or ``None`` after ``timeout`` seconds."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop receiving."""
        self.hub.unsubscribe(self)


class Hub:
    """Reads the all-runs stream in one loop and fans out to subscribers by run."""

    def __init__(
        self,
        realtime: Realtime,
        # Well under redis-py's default socket timeout (5 s since redis-py 8): an idle read that
        # outlasted it failed with "Timeout reading from socket" and was retried half a second later.
        block_ms: int = 2000,
        scope: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
        reader: Callable[[], Any] | None = None,
    ) -> None:
        self.realtime = realtime
        # Makes what renders read state with (made on the reader thread's first render): the web's
        # client on a Redis connection of that thread's own, so a push checks no connection out of
        # the shared pool (under gevent each checkout polls the socket through the event loop).
        self.make_reader = reader
        self.reader: Any = None
        # Entered once by the reader thread, around all its renders (the web app's request context for
        # templates): entering one per render cost a third of a push.
        self.scope = scope
        self.block_ms = block_ms
        self.lock = threading.Lock()
        self.subscribers: dict[str, set[Subscription]] = {}
        self.closed = False
        self.thread: threading.Thread | None = None
        self.position = "0-0"
        self.backoff = Backoff("hub")

    def subscribe(self, topic: str, render: Render, audience: str = "") -> Subscription:
        """Receive a render after each batch of events of run ``topic`` (or ``EVERY_RUN``).

        Subscribers of one ``audience`` (viewers who see the same page, e.g. one approver's tabs, or
        every visitor) get one render between them.
        """
        sub = Subscription(self, topic, render, audience)
        with self.lock:
            if self.closed:
                sub.inbox.put(CLOSE)
                return sub
            self.subscribers.setdefault(topic, set()).add(sub)
            if self.thread is None:
                # Start reading from now: a socket catches up on what happened before by itself.
                self.position = self.realtime.last_all_id()
                self.thread = threading.Thread(target=self._run, name="hitl-hub", daemon=True)
                self.thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget ``sub``."""
        with self.lock:
            subs = self.subscribers.get(sub.topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.subscribers[sub.topic]

    def close(self) -> None:
        """Tell every subscriber to close (the process is stopping)."""
        with self.lock:
            self.closed = True
            subs = [s for group in self.subscribers.values() for s in group]
        for sub in subs:
            sub.inbox.put(CLOSE)

    def watching(self) -> int:
        """How many subscriptions are open."""
        with self.lock:
            return sum(len(s) for s in self.subscribers.values())

    def _run(self) -> None:
        with self.scope():
            self._read_forever()

    def _read_forever(self) -> None:
        while not self.closed:
            try:
                reply = self.realtime.read({self.realtime.all_key: self.position}, self.block_ms)
            except Exception as exc:
                if outage(exc) is None:
                    log.exception("hub read failed; retrying")
                    threading.Event().wait(0.5)
                else:  # Redis out (a failover, a restart): one line, then read on from self.position
                    self.backoff.wait(exc)
                continue
            self.backoff.recovered()
            entries = reply.get(self.realtime.all_key)
            if not entries:
                continue
            self.position = entries[-1][0]
            latest: dict[str, str] = {}
            status_changed = ""
            for entry_id, fields in entries:
                latest[fields.get("r", "")] = entry_id
                if fields.get("e") in STATUS_EVENTS:
                    status_changed = entry_id
            if status_changed:
                latest[EVERY_RUN] = status_changed
            for topic, entry_id in latest.items():
                self._deliver(topic, entry_id)

    def _deliver(self, topic: str, event_id: str) -> None:
        with self.lock:
            subs = list(self.subscribers.get(topic, ()))
        if not subs:
            return
        audiences: dict[str, list[Subscription]] = {}
        for sub in subs:
            audiences.setdefault(sub.audience, []).append(sub)
        for group in audiences.values():
            try:
                if self.reader is None and self.make_reader is not None:
                    self.reader = self.make_reader()
                fragment: Any = group[0].render(self.reader)  # one render for every socket of this audience
            except Exception:
                log.exception("render for %s failed", topic)
                continue
            for sub in group:
                sub.inbox.put((event_id, fragment))
