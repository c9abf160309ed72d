"""Security headers on every response (pages, API, static files, errors); HSTS in production only."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from hitl_web import create_app
from hitl_web.engine import Client
from hitl_web.settings import Settings

TEMPLATES = Path(__file__).resolve().parent.parent / "hitl_web" / "templates"
HSTS = "max-age=31536000; includeSubDomains"


def policy(response: TestResponse) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as directive -> sources."""
    header = response.headers.get("Content-Security-Policy", "")
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {d[0]: d[1:] for d in directives}


def assert_secured(response: TestResponse) -> None:
    """Every header of issue 13 item 6, with its exact value."""
    csp = policy(response)
    assert csp.get("frame-ancestors") == ["'none'"], csp
    assert csp.get("script-src") == ["'self'"], csp  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp.get("style-src") == ["'self'"], csp
    assert csp.get("connect-src") == ["'self'"], csp
    assert csp.get("base-uri") == ["'none'"], csp
    assert csp.get("form-action") == ["'self'"], csp
    assert csp.get("object-src") == ["'none'"], csp
    assert csp.get("default-src") == ["'self'"], csp
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "same-origin"


def responses(app: Flask, client: Client) -> dict[str, TestResponse]:
    """A page, a run page, an API answer, an API error, a static file and a page's 404."""
    run_id = client.trigger("counted")
    http = app.test_client()
    got = {
        "index page": http.get("/"),
        "run page": http.get(f"/runs/{run_id}"),
        "login page": http.get("/login"),
        "api": http.get("/api/runs?status=waiting", headers={"Authorization": "Bearer ci-token-0123456789abcdef"}),
        "api error": http.get("/api/runs/wfr_nope", headers={"Authorization": "Bearer ci-token-0123456789abcdef"}),
        "static file": http.get("/static/app.js"),
        "missing page": http.get("/nope"),
        "healthz": http.get("/healthz"),
    }
    expected = {"api error": 404, "missing page": 404}
    for name, response in got.items():
        assert response.status_code == expected.get(name, 200), (name, response.status_code)
    return got


def development_app(settings: Settings) -> Flask:
    """The app as `make run` has it (HITL_ENV=development, anyone may decide)."""
    return create_app({"TESTING": True, "ENV_NAME": "development", "SECRET_KEY": "test-secret", "SETTINGS": settings})


def production_app(settings: Settings) -> Flask:
    """The app as production runs it (strong secret key, bearer tokens for the API)."""
    return create_app(
        {
            "TESTING": True,
            "ENV_NAME": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "API_TOKENS": "ci:ci-token-0123456789abcdef",
            "SETTINGS": settings,
        }
    )


def test_every_response_carries_the_security_headers(settings: Settings, client: Client) -> None:
    """Development: the whole policy on pages, API, static files and errors, and no HSTS (plain http locally)."""
    app = development_app(settings)
    assert app.config["OPEN_MODE"]
    for name, response in responses(app, client).items():
        try:
            assert_secured(response)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
        assert "Strict-Transport-Security" not in response.headers, name


def test_production_adds_hsts(settings: Settings, client: Client) -> None:
    """Production: the same headers, plus Strict-Transport-Security on every response."""
    app = production_app(settings)
    assert app.config["ENV_NAME"] == "production" and not app.config["OPEN_MODE"]
    for name, response in responses(app, client).items():
        assert_secured(response)
        assert response.headers.get("Strict-Transport-Security") == HSTS, name


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_need_neither_inline_code_nor_eval(template: str) -> None:
    """What the policy refuses never appears in a template: inline scripts or styles, hx-on, js: or javascript:."""
    source = (TEMPLATES / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", source), "inline <script>"
    assert "<style" not in source, "inline <style>"
    assert not re.search(r"\sstyle=", source), "style attribute"
    assert not re.search(r"\shx-on", source), "hx-on needs eval"
    assert not re.search(r"\son[a-z]+=", source), "inline event handler"
    assert not re.search(r"(js|javascript):", source), "js:/javascript: values need eval"


def test_base_turns_off_what_htmx_would_need_eval_or_inline_styles_for(app: Flask) -> None:
    """htmx reads its config from base.html: no indicator <style>, no eval, no scripts in swapped content."""
    html = app.test_client().get("/login").get_data(as_text=True)
    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert match, "base.html configures htmx"
    assert '"includeIndicatorStyles": false' in match.group(1)
    assert '"allowEval": false' in match.group(1)
