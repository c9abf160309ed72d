"""Redis connections: the one way every process (web, hub, workers, CLI) opens its client.

With ``REDIS_SENTINELS`` the client asks the Sentinels where the primary is, on every new
connection: after a failover each process finds the new primary by itself (a connection to the
old one fails, or is closed by the Sentinels when they demote it, and the next one asks again).
"""

from __future__ import annotations

from typing import Any

import redis
from redis.connection import parse_url
from redis.sentinel import Sentinel, SentinelConnectionPool

from .settings import Settings

POOL_TIMEOUT = 20  # seconds a command waits for a free connection of the pool
HEALTH_CHECK_INTERVAL = 30


class BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool of primary connections, waiting for a free connection as ``connect``'s plain pool does.

    redis-py has no blocking Sentinel pool: its own fails with "Too many connections" past its size.
    """


def connect(where: Settings | str, max_connections: int | None = None) -> redis.Redis:
    """A client for ``where`` (settings: through the Sentinels if they name some; text: that URL).

    Its pool waits for a free connection instead of failing: thousands of sockets in one gevent
    process would otherwise open thousands of connections; replies stay bytes, which RQ needs.
    """
    settings = where if isinstance(where, Settings) else None
    size = max_connections or (settings or Settings.from_env()).redis_max_connections
    if settings is not None and settings.redis_sentinels:
        return _through_sentinels(settings, size)
    url = where if isinstance(where, str) else where.redis_url
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=size, timeout=POOL_TIMEOUT, health_check_interval=HEALTH_CHECK_INTERVAL
    )
    return redis.Redis(connection_pool=pool)


def _through_sentinels(settings: Settings, size: int) -> redis.Redis:
    """The primary's client, found through ``settings.redis_sentinels`` (REDIS_URL: its password and database)."""
    given = parse_url(settings.redis_url or "redis://")  # type: ignore[no-untyped-call]
    credentials = {k: given[k] for k in ("username", "password", "db") if given.get(k) is not None}
    sentinels = [(host, int(port)) for host, _, port in (s.rpartition(":") for s in settings.redis_sentinels)]
    # A Sentinel that does not answer within a second is skipped for the next one.
    asked = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0, "password": settings.redis_sentinel_password or None}
    manager = Sentinel(sentinels, sentinel_kwargs=asked, **credentials)  # type: ignore[no-untyped-call]
    primary: redis.Redis = manager.master_for(  # type: ignore[no-untyped-call]
        settings.redis_sentinel_master,
        connection_pool_class=BlockingSentinelPool,
        max_connections=size,
        timeout=POOL_TIMEOUT,
        health_check_interval=HEALTH_CHECK_INTERVAL,
    )
    return primary


class Primary(redis.Redis):
    """RQ's ``--connection-class`` in the Procfile: RQ's workers reach Redis as every other process does."""

    def __init__(self, *_args: Any, connection_pool: Any = None, **_rq_defaults: Any) -> None:
        # Without a URL, RQ makes its client with the default host and port: the settings say where Redis is.
        super().__init__(connection_pool=connection_pool or connect(Settings.from_env()).connection_pool)

    @classmethod
    def from_url(cls, url: str, **_kwargs: Any) -> Primary:
        """RQ's client for ``--url``/``RQ_REDIS_URL``: ``connect``'s, with the Sentinels when they are set."""
        return cls(connection_pool=connect(Settings.from_env(redis_url=url)).connection_pool)
