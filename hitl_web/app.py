"""The Flask application factory."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import redis
from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException, SecurityError

from .connections import connect
from .engine import Client
from .live import Realtime
from .live.hub import Hub
from .notifications.notifiers import configured
from .settings import Settings
from .web import api, headers, inbox, limits, links, outages, pages, security, sockets, upstash
from .web.auth import Approvers, SignIns, parse_api_tokens
from .web.fragments import printable, push_context
from .web.settings import check_secret_key, web_config
from .web.signin_limits import SignInLimits


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then the environment (``Settings``), then ``test_config``."""
    # Templates and static files are package data (hitl_web/templates, hitl_web/static): a wheel
    # install serves every page from any working directory.
    app = Flask(__name__)
    # Every body held to MAX_CONTENT_LENGTH (chunked ones too), every form field to UTF-8.
    app.request_class = limits.Request
    app.session_interface = security.SessionInterface()
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=1024 * 1024,
        SOCK_SERVER_OPTIONS={"ping_interval": 25, "max_message_size": sockets.MAX_MESSAGE_BYTES},
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        **web_config(Settings.from_env()),
    )
    if test_config:
        app.config.update(test_config)
    if app.config["ENV_NAME"] == "production":
        check_secret_key(app.config["SECRET_KEY"])
    elif not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = secrets.token_hex(32)  # development: sessions end with the process
    # Production: only signed-in approvers decide, the API needs a bearer token. Locally anyone may.
    app.config.setdefault("OPEN_MODE", app.config["ENV_NAME"] != "production")
    app.config["API_PRINCIPALS"] = parse_api_tokens(str(app.config["API_TOKENS"]))

    settings: Settings = app.config.get("SETTINGS") or Settings.from_env(redis_url=app.config["REDIS_URL"])
    configured(settings)  # a bad HITL_NOTIFIERS stops the web process at start, naming the entry
    connection = connect(settings)
    app.extensions["hitl"] = client = Client(connection, settings)
    app.extensions["hitl_realtime"] = rt = Realtime(connection, settings.key_prefix)
    with contextlib.suppress(redis.RedisError):  # Redis may be down at start: /healthz says so
        # Upgrading: where the all-runs stream was, a run "all" keeps its journal.
        client.engine.journal.retire_old_stream()

    def reader() -> Client:  # the hub renders every push on one thread, over a connection of its own
        return Client(redis.Redis(connection_pool=connection.connection_pool, single_connection_client=True), settings)

    app.extensions["hitl_hub"] = Hub(rt, scope=lambda: push_context(app), reader=reader)
    sign_ins = SignIns(
        connection, settings.key_prefix, app.config["SESSION_IDLE_SECONDS"], app.config["SESSION_MAX_SECONDS"]
    )
    app.extensions["hitl_approvers"] = Approvers(connection, settings.key_prefix, sign_ins)
    app.extensions["hitl_signin_limits"] = SignInLimits(
        connection,
        settings.key_prefix,
        per_account=app.config["SIGNIN_FAILURES_PER_ACCOUNT"],
        per_address=app.config["SIGNIN_FAILURES_PER_ADDRESS"],
    )

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(links.bp)
    app.register_blueprint(upstash.bp)
    sockets.sock.init_app(app)
    headers.init_headers(app)
    outages.init_app(app)
    app.before_request(sockets.refuse_foreign_sockets)
    app.jinja_env.finalize = printable  # before any template compiles: the generated code calls it
    app.jinja_env.globals.update(
        csrf_token=security.csrf_token,
        current_user=security.current_user,
        signed_in=security.signed_in,
        open_mode=security.open_mode,
        inbox_count=inbox.header_count,
    )
    app.add_url_rule("/healthz", view_func=healthz)
    app.add_url_rule("/metrics", view_func=metrics)
    # Compile every template now: otherwise the first push after a start waits ~30 ms for it, and
    # every page's push queued behind that one.
    for name in app.jinja_env.list_templates(extensions=["html"]):
        app.jinja_env.get_template(name)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Any, int]:
        """Errors as an inline message on a page (JSON under /api)."""
        if isinstance(exc, SecurityError):
            # A Host outside HITL_ALLOWED_HOSTS: no URL can be built for it, so no page either.
            return {"success": False, "error": "this server does not answer to that host name"}, 400
        if request.path.startswith(("/api/", "/v2/")):
            return {"success": False, "error": exc.description or exc.name}, exc.code or 500
        return render_template("error.html", code=exc.code, message=exc.description or exc.name), exc.code or 500

    return app


def healthz() -> tuple[dict[str, Any], int]:
    """200 with the run queue's workers whose heartbeat is fresh (stale ones named) and this process's sockets.

    503 when Redis is unreachable or refuses writes (full, read-only). No fresh worker is still 200:
    this process serves pages and takes decisions durably without one (README, "Deploying").
    """
    from flask import current_app

    from .engine.outages import describe
    from .engine.worker.heartbeat import liveness, stale_after

    client: Client = current_app.extensions["hitl"]
    settings, connection = client.settings, client.engine.redis
    try:
        # A write, since a full Redis still answers reads. NX makes it a no-op once the key exists
        # (nothing reaches the AOF), yet Redis refuses it like any write when it is full.
        connection.set(f"{settings.key_prefix}:healthz", 1, nx=True, px=60_000)
        fresh, stale = liveness(connection, settings.queue_name, stale_after(settings))
    except Exception as exc:
        return {"ok": False, "redis": describe(exc)}, 503
    sockets_open = current_app.extensions["hitl_hub"].watching()
    return {"ok": True, "redis": "ok", "workers": len(fresh), "stale": stale, "sockets": sockets_open}, 200


def metrics() -> Any:
    """Prometheus' text format: every process's counters summed, Redis' gauges now (production: a bearer token)."""
    from flask import current_app, request

    from .metrics import exposition
    from .web.auth import principal_for

    if (
        not current_app.config["OPEN_MODE"]
        and principal_for(current_app.config["API_PRINCIPALS"], request.headers.get("Authorization")) is None
    ):
        return {"success": False, "error": "a valid 'Authorization: Bearer <token>' is required"}, 401
    body, content_type = exposition(current_app.extensions["hitl"])
    return current_app.response_class(body, mimetype=None, content_type=content_type)
