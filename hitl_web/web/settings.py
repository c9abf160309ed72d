"""The web process's settings: only the documented variables are read, and weak production ones refused."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from ..engine.durations import parse_duration

TRUE = {"1", "true", "yes", "on"}
# Names a local (development) web process answers to: a page on another name (DNS rebinding) is a 400.
LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1"]
MIN_SECRET_BITS = 128


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip().lower() in TRUE


def _list(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in env.get(name, "").split(",") if item.strip()]


def _local_hosts(env: Mapping[str, str]) -> list[str]:
    """Loopback names, and the address `hitl-web dev --host` binds when it is a specific one."""
    bound = env.get("HITL_WEB_HOST", "").strip()
    return LOCAL_HOSTS + ([bound] if bound and bound not in {"0.0.0.0", "::", *LOCAL_HOSTS} else [])


def secret_strength(key: str) -> float:
    """A rough upper bound of a key's entropy in bits: its length times log2 of its distinct characters."""
    distinct = len(set(key))
    return len(key) * math.log2(distinct) if distinct > 1 else 0.0


def web_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Flask config from the environment: exactly the variables the README documents, nothing else.

    (``from_prefixed_env("HITL")`` once let any ``HITL_*`` variable, even an undocumented
    ``HITL_OPEN_MODE=true``, land in the config and turn production into local mode.)
    """
    env = os.environ if env is None else env
    production = env.get("HITL_ENV", "production") == "production"
    hosts = _list(env, "HITL_ALLOWED_HOSTS") or (None if production else _local_hosts(env))
    return {
        "SECRET_KEY": env.get("SECRET_KEY", ""),
        "REDIS_URL": env.get("REDIS_URL", ""),
        "ENV_NAME": "production" if production else env.get("HITL_ENV", ""),
        "API_TOKENS": env.get("HITL_API_TOKENS", ""),
        "REQUIRE_LOGIN_TO_VIEW": _flag(env, "HITL_REQUIRE_LOGIN_TO_VIEW", False),
        "ALLOWED_ORIGINS": _list(env, "HITL_ALLOWED_ORIGINS"),
        # Flask answers 400 to a Host header outside this list (None: any, for production behind a proxy).
        "TRUSTED_HOSTS": hosts,
        "SESSION_COOKIE_SECURE": _flag(env, "HITL_COOKIE_SECURE", production),
        "SESSION_IDLE_SECONDS": parse_duration(env.get("HITL_SESSION_IDLE", "8h")),
        "SESSION_MAX_SECONDS": parse_duration(env.get("HITL_SESSION_MAX", "7d")),
        "SIGNIN_FAILURES_PER_ACCOUNT": int(env.get("HITL_SIGNIN_FAILURES_PER_ACCOUNT", "5")),
        "SIGNIN_FAILURES_PER_ADDRESS": int(env.get("HITL_SIGNIN_FAILURES_PER_ADDRESS", "20")),
    }


def check_secret_key(key: str) -> None:
    """Refuse a production secret key that a guess could find (it signs every session cookie)."""
    if not key:
        raise RuntimeError("SECRET_KEY is not set: production refuses to start without it")
    if len(key) < 32 or secret_strength(key) < MIN_SECRET_BITS:
        raise RuntimeError(
            "SECRET_KEY is too weak: production needs at least 32 random characters "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
