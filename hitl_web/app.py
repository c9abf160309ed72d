"""The Flask application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from .config import Settings
from .redis import connect
from .workflow import Client

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``HITL_*`` environment variables, then ``test_config``."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.from_mapping(SECRET_KEY=os.environ.get("SECRET_KEY", ""), REDIS_URL=os.environ.get("REDIS_URL", ""))
    app.config.from_prefixed_env("HITL")
    if test_config:
        app.config.update(test_config)
    settings = app.config.get("SETTINGS") or Settings.from_env(redis_url=app.config["REDIS_URL"])
    app.extensions["hitl"] = Client(connect(settings.redis_url), settings)

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, Any], int]:
        """200 with the number of live workers while Redis answers; 503 when it does not."""
        client: Client = app.extensions["hitl"]
        try:
            client.store.redis.ping()
        except Exception as exc:
            return {"ok": False, "redis": f"unreachable: {type(exc).__name__}"}, 503
        from rq import Worker

        return {"ok": True, "redis": "ok", "workers": Worker.count(connection=client.store.redis)}, 200

    return app
