"""RQ's queue of wake-up calls, for the engine: the one place outside the worker that names an RQ class.

The engine needs the queue's keys (its list, and RQ's set of queues) for the scripts that queue
wake-up calls, and ``rq info`` and the worker count read the same queue.
"""

from __future__ import annotations

import redis
from rq import Queue


def run_queue(name: str, connection: redis.Redis) -> Queue:
    """RQ's queue ``name`` on ``connection``."""
    return Queue(name, connection=connection)
