"""gunicorn settings for the ``web`` process (``gunicorn -c python:hitl_web.gunicorn_conf``)."""

from __future__ import annotations

import signal
from typing import Any

# Pydantic and the model only: this module is loaded before gevent patches the standard library.
from hitl_web.metrics import enable
from hitl_web.settings import Settings

_settings = Settings.from_env()  # a bad value stops gunicorn here, naming its variable
enable(_settings)  # the metrics' directory, shared by every process, before any imports them
# Every interface, as platforms require of the Procfile's web line; `hitl-web dev` sets HITL_WEB_HOST
# (127.0.0.1 unless --host or HOST says otherwise), since a local stack lets anyone who reaches it decide.
_host, _port = _settings.web_host, _settings.port
bind = f"[{_host}]:{_port}" if ":" in _host and not _host.startswith("[") else f"{_host}:{_port}"
# gevent: an open WebSocket is a greenlet, so one process holds thousands of viewers (with gthread,
# each would hold a thread: set HITL_WEB_WORKER_CLASS=gthread and WEB_THREADS to the sockets needed).
worker_class = _settings.web_worker_class
workers = _settings.web_concurrency
worker_connections = _settings.web_connections
threads = _settings.web_threads
graceful_timeout = _settings.graceful_timeout
control_socket_disable = True
accesslog = _settings.access_log or None


def post_worker_init(worker: Any) -> None:
    """On stop signals, tell open sockets first, so they close with 1012 and browsers reconnect."""
    import gc

    from hitl_web.log_lines import configure
    from hitl_web.web.sockets import shutdown

    configure(_settings.log_format, _settings.log_level)  # decisions' lines, with their principal

    # The app, its modules and compiled templates live as long as the process: the collector need
    # not walk them again in every full collection (those walks paused pushes by tens of ms).
    gc.freeze()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        previous = signal.getsignal(signum)

        def handler(sig: int, frame: Any, previous: Any = previous) -> None:
            shutdown(worker.wsgi)  # the app gunicorn loaded (load_wsgi runs before this hook)
            if callable(previous):
                previous(sig, frame)

        signal.signal(signum, handler)


def child_exit(server: Any, worker: Any) -> None:
    """A web process ended: its open-socket gauge stops counting."""
    from hitl_web.metrics import mark_dead

    mark_dead(worker.pid)
