"""Acknowledged means replicated (``HITL_MIN_REPLICAS``): a write counts once enough replicas have it.

Two halves. A script whose refusal must leave nothing behind (a trigger, a decision) first checks
that enough replicas are online (``_replicas.lua``). After a write, Redis's ``WAIT``, pipelined
on the same connection, waits for the replicas' acknowledgement of it. Either refusal reads
``NOREPLICAS ...``, the word Redis itself answers with under ``min-replicas-to-write``, so the
outage handlers (a 503 on the web, a worker waiting) treat the three alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import NoScriptError, ResponseError

from ...settings import Settings

REFUSED = "NOREPLICAS"


class NotReplicated(ResponseError):
    """Too few replicas acknowledged a write within ``HITL_REPLICA_TIMEOUT``: it is on the primary alone."""


@dataclass(frozen=True)
class Acks:
    """How many replicas must acknowledge a write, and how long to wait for them."""

    replicas: int
    timeout: float  # seconds

    @classmethod
    def of(cls, settings: Settings) -> Acks | None:
        """The settings' acknowledgements, or None when none are asked for (``HITL_MIN_REPLICAS=0``)."""
        return cls(settings.min_replicas, settings.replica_timeout) if settings.min_replicas else None


def acknowledged(
    client: redis.Redis, script: tuple[str, str], keys: Sequence[Any], args: Sequence[Any], acks: Acks
) -> Any:
    """Run ``script`` (its SHA and text) and wait for ``acks``; its reply, or ``NotReplicated``.

    The ``WAIT`` rides in the same pipeline, so it waits for this connection's write (and one
    round trip carries both).
    """
    sha, text = script
    for first in (True, False):
        with client.pipeline(transaction=False) as pipe:
            pipe.evalsha(sha, len(keys), *keys, *args)
            pipe.wait(acks.replicas, max(1, round(acks.timeout * 1000)))
            reply, acked = pipe.execute(raise_on_error=False)
        if first and isinstance(reply, NoScriptError):
            client.script_load(text)
            continue
        for outcome in (reply, acked):
            if isinstance(outcome, Exception):
                raise outcome
        if acked < acks.replicas:
            raise NotReplicated(
                f"{REFUSED} {acked} of {acks.replicas} replicas acknowledged the write within {acks.timeout:g} s: "
                "it is on the primary alone and may be lost if the primary fails now"
            )
        return reply
    raise AssertionError("unreachable: the second attempt returns or raises")
