"""A worker's heartbeat, which its sweeper thread writes, and the liveness /healthz reads from it.

RQ's own heartbeat goes out between jobs, so an idle worker blocked in its dequeue (up to
``worker_ttl``, 7 minutes) looks as alive as a SIGKILLed one. The sweeper thread beats the same
field (``last_heartbeat`` of RQ's worker record) every third of a lease; a worker whose last beat
is older than a lease is stale: it could not have renewed a run's lease either.
"""

from __future__ import annotations

import time

import redis
from rq import worker_registration
from rq.utils import as_text, now, utcformat, utcparse
from rq.worker import BaseWorker

from ...settings import Settings


def beat_every(settings: Settings) -> float:
    """Seconds between a worker's beats."""
    return settings.lease_seconds / 3


def stale_after(settings: Settings) -> float:
    """Seconds after its last beat that a worker counts as gone."""
    return settings.lease_seconds


def beat(connection: redis.Redis, worker: BaseWorker) -> None:
    """Write ``worker``'s heartbeat; if Redis lost its record (restarted without persistence), write it again."""
    stamp = utcformat(now())
    ttl = worker.worker_ttl + 60
    with connection.pipeline(transaction=False) as pipe:
        pipe.hset(worker.key, "last_heartbeat", stamp)
        pipe.expire(worker.key, ttl)
        created, _ = pipe.execute()
    if created:  # a new field: the record was gone, and the worker with it from its queues' lists
        with connection.pipeline() as pipe:
            pipe.hset(worker.key, mapping={**worker.serialize(), "last_heartbeat": stamp})
            worker_registration.register(worker, pipe)
            pipe.expire(worker.key, ttl)
            pipe.execute()


def liveness(connection: redis.Redis, queue_name: str, stale_seconds: float) -> tuple[list[str], list[str]]:
    """Names of the workers registered on ``queue_name`` with a fresh heartbeat, and of the stale ones."""
    keys = sorted(as_text(k) for k in connection.smembers(worker_registration.WORKERS_BY_QUEUE_KEY % queue_name))
    with connection.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hget(key, "last_heartbeat")
        beats = pipe.execute()
    current = time.time()
    fresh: list[str] = []
    stale: list[str] = []
    for key, raw in zip(keys, beats, strict=True):
        name = key.removeprefix(BaseWorker.redis_worker_namespace_prefix)
        # A registration whose record expired has no beat at all: stale too (RQ's maintenance drops it).
        at = utcparse(as_text(raw)).timestamp() if raw else None
        (fresh if at is not None and current - at <= stale_seconds else stale).append(name)
    return fresh, stale
