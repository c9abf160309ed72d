"""A real headless Chromium (Debian's), driven by Playwright, for what a person sees and clicks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from hitl_web.engine import Client
from hitl_web.settings import Settings
from hitl_web.stack import WebServer
from hitl_web.web.auth import Approvers
from tests.conftest import PASSWORD, Workers, running_web

CHROMIUM = "/usr/bin/chromium"  # Playwright cannot download its own browsers here
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1100, "height": 800}
TIMEOUT_MS = 15_000

expect.set_options(timeout=TIMEOUT_MS)

NewPage = Callable[..., Page]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver for the session, stopped at the end."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One Chromium for the session (a missing /usr/bin/chromium fails the tests: `make test` installs it)."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """Open tabs, each in a fresh profile (own cookies, so own session); an uncaught script error fails the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_tab(**context_options: Any) -> Page:
        ctx = browser.new_context(viewport=VIEWPORT, **context_options)
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        tab = ctx.new_page()
        tab.on("pageerror", lambda exc: errors.append(f"{tab.url}: {exc}"))
        return tab

    yield open_tab
    for ctx in contexts:
        ctx.close()  # a no-op for one the test closed already
    assert not errors, f"uncaught script errors: {errors}"


@pytest.fixture
def page(new_page: NewPage) -> Page:
    """A tab in a fresh profile."""
    return new_page()


@pytest.fixture
def web_only(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebServer]:
    """A real gunicorn web process with no worker: the test starts the workers it needs (``workers``)."""
    yield from running_web(settings, tmp_path, request)


APPROVERS = ("alice", "bob", "carol")


@pytest.fixture
def production_web(settings: Settings, client: Client, tmp_path: Path, workers: Workers) -> Iterator[WebServer]:
    """A gunicorn web process in production mode (approvers sign in), and one worker."""
    for name in APPROVERS:
        Approvers(client.store.redis, settings.key_prefix).add(name, PASSWORD)
    workers.start(1)
    # Plain HTTP on loopback: the session cookie may go without TLS here.
    server = WebServer(settings, tmp_path, {"HITL_ENV": "production", "HITL_COOKIE_SECURE": "false"}).start()
    yield server
    server.stop()


def signed_in_page(new_page: NewPage, web: WebServer, name: str, path: str) -> Page:
    page = new_page()
    page.goto(f"{web.url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{web.url}{path}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    return page


def csrf(page: Page) -> str:
    """The page's session CSRF token (what its htmx sends as a header)."""
    headers = page.locator("body").get_attribute("hx-headers") or ""
    return re.search(r'"X-CSRF-Token": "([^"]+)"', headers).group(1)  # type: ignore[union-attr]
