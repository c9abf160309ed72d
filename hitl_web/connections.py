"""Redis connections: the one way every process (web, hub, workers, CLI) opens its client."""

from __future__ import annotations

import redis

from .settings import Settings


def connect(url: str, max_connections: int | None = None) -> redis.Redis:
    """A client for ``url`` whose pool waits for a free connection instead of failing.

    Thousands of sockets in one gevent process would otherwise open thousands of connections
    (or fail with "Too many connections"); replies stay bytes, which RQ needs.
    """
    size = max_connections or Settings.from_env().redis_max_connections
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=size, timeout=20, health_check_interval=30)
    return redis.Redis(connection_pool=pool)
