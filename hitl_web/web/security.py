"""Who the visitor is (from the session only), what they may do, and CSRF tokens for every form."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from . import state
from .viewer import Viewer

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def open_mode() -> bool:
    """Local mode: anyone may decide (a banner says so). Production requires signed-in approvers."""
    return bool(current_app.config["OPEN_MODE"])


def _checked_session() -> None:
    """Once per request: a session that claims a sign-in whose server-side record is gone becomes a guest's."""
    if g.get("session_checked"):
        return
    g.session_checked = True
    if session.get("approver") is not True:
        return
    approvers = state.approvers()
    name, sid, at = session.get("user"), session.get("sid"), session.get("signed_at")
    fine = isinstance(name, str) and isinstance(sid, str) and isinstance(at, int | float)
    if not fine or not approvers.sign_ins.valid(sid, name, float(at), approvers.key):  # type: ignore[arg-type]
        session.clear()  # signed out elsewhere, removed, new password, or past a lifetime


def current_user() -> str:
    """The visitor's name, from the session only: never from a form or a JSON body."""
    _checked_session()
    user = session.get("user")
    if not isinstance(user, str) or not user:
        user = session["user"] = f"guest-{secrets.token_hex(3)}"
    return user


def current_viewer() -> Viewer:
    """The visitor as a page shows asks to them (their groups are read when it renders: ``with_groups``)."""
    return Viewer(current_user(), signed_in(), open_mode())


def signed_in() -> bool:
    """True when the session belongs to a signed-in approver whose sign-in still stands (checked in Redis)."""
    _checked_session()
    return session.get("approver") is True


def sign_in(name: str) -> None:
    """Start an approver's session: a fresh session and CSRF token, so nothing from before carries over."""
    approvers = state.approvers()
    session.clear()
    session["user"] = name
    session["approver"] = True
    session["sid"] = approvers.sign_ins.start(name)
    session["signed_at"] = round(time.time(), 3)
    session["csrf"] = secrets.token_urlsafe(32)
    g.session_checked = True


def sign_out() -> None:
    """End this session here and in every web process (a copy of its cookie no longer signs in)."""
    approvers = state.approvers()
    sid, name = session.get("sid"), session.get("user")
    if isinstance(sid, str) and isinstance(name, str):
        approvers.sign_ins.end(sid, name)
    session.clear()


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


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the default port filled in, or None when it does not parse."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return scheme, parts.hostname, port


def same_origin() -> bool:
    """False when the request says it comes from another site (the Origin header of a WebSocket).

    Scheme, host and port are compared with the request's own (behind a TLS proxy, its
    X-Forwarded-Proto gives the scheme: a page cannot set that header on a WebSocket handshake);
    ``HITL_ALLOWED_ORIGINS`` adds origins, such as a proxy's public name.
    """
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser, or a same-origin request that omits it
    if origin in current_app.config["ALLOWED_ORIGINS"]:
        return True
    try:
        sent = urlsplit(origin)
        host_port = urlsplit(f"//{request.host}").port
    except ValueError:
        return False  # an Origin (or Host) that does not parse is no origin of ours
    forwarded = request.headers.get("X-Forwarded-Proto")
    scheme = (forwarded or request.scheme).split(",")[0].strip()
    ours = {_origin(scheme, request.host)}
    if host_port is None and not forwarded:
        # A Host without a port means the scheme's default one (a browser always names any other),
        # or, from a client that leaves it out, the port this server listens on.
        ours.add(_origin(scheme, f"{request.host}:{request.environ.get('SERVER_PORT', '')}"))
    theirs = _origin(sent.scheme, sent.netloc)
    return theirs is not None and theirs in ours


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
