"""Who the visitor is (from the session only), what they may do, and CSRF tokens for every form."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def open_mode() -> bool:
    """Local mode: anyone may decide (a banner says so). Production requires signed-in approvers."""
    return bool(current_app.config["OPEN_MODE"])


def current_user() -> str:
    """The visitor's name, from the session only: never from a form or a JSON body."""
    user = session.get("user")
    if not isinstance(user, str) or not user:
        user = session["user"] = f"guest-{secrets.token_hex(3)}"
    return user


def signed_in() -> bool:
    """True when the session belongs to a signed-in approver."""
    return session.get("approver") is True


def sign_in(name: str) -> None:
    """Start an approver's session: a fresh session and CSRF token, so nothing from before carries over."""
    session.clear()
    session["user"] = name
    session["approver"] = True
    session["csrf"] = secrets.token_urlsafe(32)


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse (400) a form POST that carries no token of this session (as a field or an htmx header)."""
    expected = session.get("csrf")
    sent = [request.form.get(CSRF_FIELD), request.headers.get(CSRF_HEADER)]
    if (
        not isinstance(expected, str)
        or not expected
        or not any(isinstance(token, str) and hmac.compare_digest(token, expected) for token in sent)
    ):
        abort(400, description="This form has expired or did not come from this site: reload the page and try again.")


def same_origin() -> bool:
    """False when the request says it comes from another site (the Origin header of a WebSocket).

    Host names are compared (some clients leave the port out of Host); ``HITL_ALLOWED_ORIGINS``
    adds origins, such as a proxy's public name.
    """
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser, or a same-origin request that omits it
    if origin in current_app.config["ALLOWED_ORIGINS"]:
        return True
    return urlsplit(origin).hostname == urlsplit(f"//{request.host}").hostname


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer made once per key, not per request."""

    _made: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The serializer for the app's current secret key (and fallbacks)."""
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = self._made
        if made is None or made[0] != keys:
            made = self._made = (keys, super().get_signing_serializer(app))
        return made[1]
