"""Clickjacking and the Content-Security-Policy, in a real Chromium against real gunicorn, worker and Redis."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from hitl_web.devtools.embedded_redis import free_port
from hitl_web.engine import Client, RunStatus
from hitl_web.stack import WebServer, Workers
from tests.conftest import wait_for_status, wait_until
from tests.e2e.test_browser import (
    WAITING_ROWS,
    approval,
    expect_finished,
    expect_live,
    expect_waiting,
    start_from_index,
)

# Reports every violation of the page's policy to the test (a binding survives navigations and is not
# subject to the page's CSP, being the browser's own).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportViolation(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Framer:
    """Another site's page (another port of the same host: same-site) that frames a URL of ours."""

    def __init__(self, target: str) -> None:
        page = (
            "<!doctype html><title>prize</title><h1>Click to win</h1>"
            f'<iframe src="{target}" width="1000" height="700"></iframe>'
        )

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> Framer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def watch_policy(page: Page) -> list[str]:
    """Every Content-Security-Policy violation the tab reports, as events and as console messages."""
    violations: list[str] = []

    def report(violation: str) -> None:
        violations.append(violation)

    page.expose_function("reportViolation", report)
    page.add_init_script(REPORT_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "evalDisallowed" in message.text:
            violations.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    return violations


@pytest.fixture
def waiting_run(web_only: WebServer, workers: Workers, client: Client) -> Iterator[str]:
    """A human-in-loop run waiting for a decision, with a worker to resume it."""
    workers.start(1)
    run_id = client.trigger("human-in-loop", {"userId": "alice", "action": "wire the money"})
    wait_for_status(client, run_id, RunStatus.WAITING)
    yield run_id


def test_a_framed_run_page_is_refused(web_only: WebServer, waiting_run: str, client: Client, page: Page) -> None:
    """Another site frames a waiting run's page: Chromium refuses it, no approve button anywhere, the run waits."""
    target = f"{web_only.url}/runs/{waiting_run}"
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    answered: list[int] = []
    page.on("response", lambda response: answered.append(response.status) if response.url == target else None)
    with Framer(target) as framer:
        page.goto(framer.url)
        expect(page.locator("h1")).to_have_text("Click to win")
        # The server did answer the frame's request (200): the browser is what refused to show it.
        wait_until(lambda: answered, timeout=10)
        assert answered == [200], answered
        page.wait_for_load_state("load")  # the frame's load (or refusal) is part of the page's
        for f in page.frames:
            assert f.locator("[data-testid=approve]").count() == 0, f"approve reachable in frame {f.url}"
            assert f.locator("[data-testid=run-id]").count() == 0, f"run page rendered in frame {f.url}"
        assert len(page.frames) == 2, [f.url for f in page.frames]
        assert page.frames[1].url != target, "the frame shows Chromium's error page, not the run page"
        wait_until(lambda: any("frame-ancestors" in text for text in console), timeout=10)
        # The victim clicks where the framed prompt would be: nothing is there to take the click.
        box = page.locator("iframe").bounding_box()
        assert box is not None
        for dx, dy in ((0.2, 0.3), (0.5, 0.5), (0.3, 0.6)):
            page.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
    time.sleep(0.5)  # a decision would have resumed the run by now
    run = client.get_run(waiting_run)
    assert run.status == RunStatus.WAITING, run.status
    assert all(step.receipt is None for step in run.steps)


def test_the_live_pages_work_under_the_policy(web_only: WebServer, workers: Workers, page: Page) -> None:
    """Index, start form, run page, live socket, approve and sign-in page: all work, and nothing breaks the policy."""
    violations = watch_policy(page)
    workers.start(1)
    run_id = start_from_index(page, web_only, "ship it under a strict policy")
    expect_live(page)  # the same-origin ws:// socket is allowed by connect-src 'self'
    expect_waiting(page)
    page.click("[data-testid=approve]")  # an htmx POST, answered by a swap
    expect(approval(page)).to_have_attribute("data-state", "decided")
    expect_finished(page, "approved", [*WAITING_ROWS, "process-approved", "finalize"])  # arrived live
    assert page.url == f"{web_only.url}/runs/{run_id}"
    page.goto(web_only.url + "/")
    expect_live(page)
    expect(page.locator("#runs")).to_contain_text(run_id)
    page.goto(web_only.url + "/login")
    expect(page.locator("form")).not_to_have_count(0)
    page.evaluate("() => new Promise((done) => setTimeout(done, 200))")  # late reports come in
    assert violations == [], violations
