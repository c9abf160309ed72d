"""Who the visitor is (kept in the session) and CSRF tokens for every form."""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def current_user() -> str:
    """The visitor's name, from the session only: never from a form or a JSON body."""
    user = session.get("user")
    if not isinstance(user, str) or not user:
        user = session["user"] = f"guest-{secrets.token_hex(3)}"
    return user


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
