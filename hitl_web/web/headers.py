"""Security headers on every response: no framing, scripts and styles from this origin only.

A same-site page once framed ``/runs/<id>`` and a signed-in approver's click in the frame approved
(clickjacking). ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` make browsers refuse to
show any of our pages in a frame; the rest of the policy keeps an injected script or style from
running should an escape ever be missed.
"""

from __future__ import annotations

from flask import Flask, Response, current_app

# Our scripts are the vendored htmx, its ws extension and app.js, all under /static: no inline script,
# no eval (base.html's htmx-config turns off htmx's eval and its inline indicator <style>).
# connect-src 'self' covers the page's own ws:// (and wss://) origin: CSP Level 3, which Chromium follows.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # the same refusal for browsers that predate frame-ancestors
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # run ids in our URLs stay out of other sites' logs
}
# Production only: a local stack is plain http on 127.0.0.1, and HSTS there would pin the browser to
# https for every port of localhost for a year.
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(response: Response) -> Response:
    """Add the security headers to ``response`` (those a view set itself are kept)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["ENV_NAME"] == "production":
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_headers(app: Flask) -> None:
    """Send the security headers on every response of ``app``: pages, API, static files and errors."""
    app.after_request(security_headers)
