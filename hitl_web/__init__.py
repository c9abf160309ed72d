"""hitl-web: human-in-the-loop workflows with Flask, HTMX, RQ and Redis."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
