"""The web process's Flask config, from the one Settings model; weak production settings refused."""

from __future__ import annotations

import math
from typing import Any

from ..engine import InvalidDuration, parse_duration
from ..settings import Settings, SettingsError, variable

# Names a local (development) web process answers to: a page on another name (DNS rebinding) is a 400.
LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1"]
MIN_SECRET_BITS = 128


def _local_hosts(bound: str) -> list[str]:
    """Loopback names, and the address `hitl-web dev --host` binds when it is a specific one."""
    return LOCAL_HOSTS + ([bound] if bound and bound not in {"0.0.0.0", "::", *LOCAL_HOSTS} else [])


def _seconds(settings: Settings, name: str) -> float:
    """A duration setting in seconds; one the engine refuses (over 10 years) names its variable."""
    try:
        return parse_duration(getattr(settings, name))
    except InvalidDuration as exc:
        raise SettingsError(f"invalid settings: {variable(name)}: {exc}") from None


def secret_strength(key: str) -> float:
    """A rough upper bound of a key's entropy in bits: its length times log2 of its distinct characters."""
    distinct = len(set(key))
    return len(key) * math.log2(distinct) if distinct > 1 else 0.0


def web_config(settings: Settings) -> dict[str, Any]:
    """Flask config from ``settings``: exactly the variables the README documents, nothing else.

    (``from_prefixed_env("HITL")`` once let any ``HITL_*`` variable, even an undocumented
    ``HITL_OPEN_MODE=true``, land in the config and turn production into local mode.)
    """
    production = settings.env == "production"
    hosts = list(settings.allowed_hosts) or (None if production else _local_hosts(settings.web_host))
    return {
        "SECRET_KEY": settings.secret_key,
        "REDIS_URL": settings.redis_url,
        "ENV_NAME": settings.env,
        "API_TOKENS": settings.api_tokens,
        "AUDIT_READERS": list(settings.audit_readers),
        "REQUIRE_LOGIN_TO_VIEW": settings.require_login_to_view,
        "ALLOWED_ORIGINS": list(settings.allowed_origins),
        # Flask answers 400 to a Host header outside this list (None: any, for production behind a proxy).
        "TRUSTED_HOSTS": hosts,
        "SESSION_COOKIE_SECURE": production if settings.cookie_secure is None else settings.cookie_secure,
        "SESSION_IDLE_SECONDS": _seconds(settings, "session_idle"),
        "SESSION_MAX_SECONDS": _seconds(settings, "session_max"),
        "SIGNIN_FAILURES_PER_ACCOUNT": settings.signin_failures_per_account,
        "SIGNIN_FAILURES_PER_ADDRESS": settings.signin_failures_per_address,
        "MAX_SOCKETS": settings.max_sockets,
        "MAX_SOCKETS_PER_ADDRESS": settings.max_sockets_per_address,
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
