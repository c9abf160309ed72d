"""A real headless Chromium (Debian's), driven by Playwright, for what a person sees and clicks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from hitl_web.settings import Settings
from hitl_web.stack import WebServer
from tests.conftest import running_web

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
