"""One reader per process for every watched stream, fanning rendered pushes out to local sockets.

One blocking ``XREAD`` per open socket does not scale inside a process; one reader for all the
process's streams does. The hub also renders once per stream and batch of events, and every
socket on that stream gets the same fragment.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

from .channel import Realtime

log = logging.getLogger("hitl_web.hub")

Render = Callable[[], str]
CLOSE = object()  # pushed to every subscriber when the process stops


class Subscription:
    """A socket's mailbox for one stream."""

    def __init__(self, hub: Hub, key: str, render: Render) -> None:
        self.hub = hub
        self.key = key
        self.render = render
        self.inbox: queue.Queue[object] = queue.Queue()

    def get(self, timeout: float) -> object | None:
        """The next push (``(stream id, fragment)``, or ``CLOSE``), or ``None`` after ``timeout`` seconds."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop receiving."""
        self.hub.unsubscribe(self)


class Hub:
    """Reads every subscribed stream with one ``XREAD`` loop and fans out."""

    def __init__(self, realtime: Realtime, block_ms: int = 5000) -> None:
        self.realtime = realtime
        self.block_ms = block_ms
        self.lock = threading.Lock()
        self.subscribers: dict[str, set[Subscription]] = {}
        self.positions: dict[str, str] = {}
        # A stream of our own in every XREAD, so a new subscription wakes the reader at once.
        self.wake_key = f"{realtime.prefix}:hub:{uuid.uuid4().hex}"
        self.closed = False
        self.thread: threading.Thread | None = None

    def subscribe(self, key: str, after: str, render: Render) -> Subscription:
        """Receive a render of ``key``'s state after each batch of its events newer than ``after``."""
        sub = Subscription(self, key, render)
        with self.lock:
            if self.closed:
                sub.inbox.put(CLOSE)
                return sub
            subs = self.subscribers.setdefault(key, set())
            if not subs:
                self.positions[key] = after
            # A stream already read keeps its position: the subscriber's own catch-up covers the rest.
            subs.add(sub)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="hitl-hub", daemon=True)
                self.thread.start()
        self._wake()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget ``sub``; a stream nobody watches is no longer read."""
        with self.lock:
            subs = self.subscribers.get(sub.key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.subscribers[sub.key]
                    self.positions.pop(sub.key, None)

    def close(self) -> None:
        """Tell every subscriber to close (the process is stopping)."""
        with self.lock:
            self.closed = True
            subs = [s for group in self.subscribers.values() for s in group]
        for sub in subs:
            sub.inbox.put(CLOSE)
        self._wake()

    def watching(self) -> int:
        """How many subscriptions are open."""
        with self.lock:
            return sum(len(s) for s in self.subscribers.values())

    def _wake(self) -> None:
        try:
            self.realtime.redis.xadd(self.wake_key, {"w": "1"}, maxlen=1)
            self.realtime.redis.expire(self.wake_key, 60)
        except Exception:
            log.warning("could not wake the hub", exc_info=True)

    def _run(self) -> None:
        wake_pos = "$"
        while not self.closed:
            with self.lock:
                positions = dict(self.positions)
            positions[self.wake_key] = wake_pos
            try:
                reply = self.realtime.read(positions, self.block_ms)
            except Exception:
                log.exception("hub read failed; retrying")
                threading.Event().wait(0.5)
                continue
            for key, entries in reply.items():
                if key == self.wake_key:
                    wake_pos = entries[-1][0]
                    continue
                self._deliver(key, entries[-1][0])

    def _deliver(self, key: str, last_id: str) -> None:
        with self.lock:
            if key not in self.subscribers:
                return
            self.positions[key] = last_id
            subs = list(self.subscribers[key])
        try:
            fragment: Any = subs[0].render()  # one render for every socket on this stream
        except Exception:
            log.exception("render of %s failed", key)
            return
        for sub in subs:
            sub.inbox.put((last_id, fragment))


def _order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def newer(a: str, b: str) -> bool:
    """True when stream id ``a`` comes after ``b``."""
    return _order(a) > _order(b)
