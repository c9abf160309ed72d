"""Redis outages as the engine sees them: which errors are one, what to call them, how a process waits them out.

An outage is Redis unreachable (stopped, restarting, a network cut), full (``maxmemory`` reached
under ``noeviction``: every write is refused with OOM), read-only (a replica, mid-failover) or
unreplicated (fewer replicas acknowledged a write than ``HITL_MIN_REPLICAS`` asks for). None
of them is the workflow's fault or a worker's: a worker waits, and a run whose execution lost Redis
comes back through its lease and the sweep, as after a crash.
"""

from __future__ import annotations

import logging
import random
import time

import redis
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError

from .storage.replication import REFUSED

log = logging.getLogger("hitl_web.worker")

_OOM = "command not allowed when used memory"


def outage(exc: BaseException) -> str | None:
    """The kind of Redis outage ``exc`` reports ("unreachable", "full", "read-only"), or None for any other error."""
    if isinstance(exc, redis.AuthenticationError):
        return None  # a wrong password is a configuration error: waiting will not fix it
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return "unreachable"
    if isinstance(exc, OutOfMemoryError):
        return "full"
    if isinstance(exc, ReadOnlyError):
        return "read-only"
    if isinstance(exc, ResponseError):
        # A write refused inside a Lua script reaches redis-py wrapped (Redis 6: "Error running
        # script ...: -OOM command not allowed ..."), as a plain ResponseError.
        text = str(exc)
        if _OOM in text:
            return "full"
        if "-READONLY" in text:
            return "read-only"
        if text.startswith(REFUSED) or f"-{REFUSED}" in text:  # HITL_MIN_REPLICAS, or min-replicas-to-write
            return "unreplicated"
    return None


def describe(exc: BaseException) -> str:
    """``exc`` as /healthz names it: "full: OOM command not allowed ...", "unreachable: ConnectionError"."""
    kind = outage(exc)
    text = str(exc)
    if kind == "full" and _OOM in text:
        # One wording for a refused command, a pipeline's and a script's.
        return f"full: OOM {text[text.index(_OOM) :]}"
    if kind == "unreplicated" and text.startswith(REFUSED):
        return f"{kind}: {text[len(REFUSED) :].strip()}"
    if kind == "unreachable" or kind is None:
        return f"{kind or 'error'}: {type(exc).__name__}"
    return f"{kind}: {text}"


class Backoff:
    """Waits between attempts while Redis is out (0.1 s doubling to 2 s, jittered); one log line per outage."""

    def __init__(self, who: str, first: float = 0.1, cap: float = 2.0) -> None:
        self.who, self.first, self.cap = who, first, cap
        self.delay = first
        self.since: float | None = None

    def failed(self, exc: BaseException) -> float:
        """Note a failed attempt; returns how long to wait before the next one."""
        if self.since is None:
            self.since = time.monotonic()
            said = describe(exc) if outage(exc) == "full" else f"{describe(exc)} ({exc})"
            log.warning("%s: Redis %s; retrying until it is back", self.who, said)
        delay, self.delay = self.delay, min(self.cap, self.delay * 2)
        # Jitter, so the workers of a fleet do not all come back in the same millisecond.
        return delay * random.uniform(0.75, 1.0)

    def recovered(self) -> None:
        """Note a successful attempt: the next outage starts from the first delay again."""
        if self.since is not None:
            log.warning("%s: Redis is back after %.1f s", self.who, time.monotonic() - self.since)
        self.since, self.delay = None, self.first

    def wait(self, exc: BaseException) -> None:
        """Note a failed attempt and sleep until the next one."""
        time.sleep(self.failed(exc))
