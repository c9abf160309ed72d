"""A request that meets a Redis outage (full, unreachable, read-only) gets a 503 saying so, never a generic 500."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, render_template, request

from ..engine.outages import describe, outage

log = logging.getLogger("hitl_web.web")

WHAT_TO_DO = {
    "full": "nothing can be saved until it has memory again",
    "unreachable": "nothing can be read or saved until it is back",
    "read-only": "nothing can be saved until it accepts writes again",
    "unreplicated": "nothing counts as saved until a replica acknowledges it",
}


def init_app(app: Flask) -> None:
    """Answer every request whose Redis call hit an outage with a 503."""
    app.register_error_handler(redis.RedisError, redis_outage)


def redis_outage(exc: redis.RedisError) -> tuple[Any, int, dict[str, str]]:
    """503 with the cause: JSON under /api, the error page otherwise; any other Redis error stays a 500."""
    kind = outage(exc)
    if kind is None:
        raise exc
    detail = describe(exc).split(": ", 1)[1]
    message = f"Redis is {kind} ({detail}): {WHAT_TO_DO[kind]}. Try again in a moment."
    log.warning("%s %s: %s", request.method, request.path, message)
    retry = {"Retry-After": "5"}
    if request.path.startswith("/api/"):
        return {"success": False, "error": message}, 503, retry
    try:
        return render_template("error.html", code=503, message=message), 503, retry
    except redis.RedisError:  # the page itself needs Redis (who is signed in): plain text then
        return message, 503, {**retry, "Content-Type": "text/plain; charset=utf-8"}
