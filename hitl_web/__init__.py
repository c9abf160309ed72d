"""hitl-web: human-in-the-loop workflows with Flask, HTMX, RQ and Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The Flask app (see ``hitl_web.app``).

    Imported lazily: gunicorn loads ``hitl_web.gunicorn_conf`` before gevent patches the standard
    library, and nothing that opens sockets may be imported by then.
    """
    from .app import create_app as build

    return build(test_config)
