"""One-click links (issue 16) in the web app: sign-in first when required, the page's CSRF; the CLI's contacts."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from hitl_web import create_app
from hitl_web.engine import Client, RunStatus
from hitl_web.notifications.links import Link, Links
from hitl_web.settings import Settings
from hitl_web.web.auth import Approvers
from tests.conftest import PASSWORD, TEST_SECRET, Workers, signed_in, wait_for_status
from tests.test_groups import cli


def minted(client: Client, run_id: str, approver: str = "alice", action: str = "approve") -> str:
    """A link for the run's ask, as a notifier mints it."""
    step = client.get_run(run_id).steps[0]
    deadline, prompt = step.deadline or 0.0, step.prompt_sha256()
    link = Link(run_id, 0, step.event_id or "", approver, action, "email-link", prompt, deadline)
    return Links(client.store.redis, client.settings.key_prefix).mint(link)


def confirm(http: FlaskClient, token: str) -> Any:
    """GET the link's page, then POST its form with the token the page carries."""
    page = http.get(f"/links/{token}").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return http.post(f"/links/{token}", data={"csrf_token": found.group(1) if found else ""})


def test_a_link_that_requires_sign_in_decides_only_for_its_own_approver(
    workers: Workers, client: Client, settings: Settings
) -> None:
    workers.start(1)
    for name in ("alice", "bob"):
        Approvers(client.store.redis, settings.key_prefix).add(name, PASSWORD)
    strict = settings.model_copy(update={"links_require_login": True})
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SETTINGS": strict, "OPEN_MODE": False})
    run_id = client.trigger("notified-approval")
    wait_for_status(client, run_id, RunStatus.WAITING)
    token = minted(client, run_id)

    page = signed_in(app, None).get(f"/links/{token}").get_data(as_text=True)
    assert 'data-testid="link-login"' in page and 'data-testid="link-confirm"' not in page
    for who in (None, "bob"):  # a visitor, and another approver: sent to sign in, nothing spent
        http = signed_in(app, who)
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', http.get("/").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
        answer = http.post(f"/links/{token}", data={"csrf_token": csrf})
        assert answer.status_code == 303 and "/login" in answer.headers["Location"]
    assert client.get_run(run_id).status is RunStatus.WAITING

    done = confirm(signed_in(app, "alice"), token)
    assert done.status_code == 200 and "Decision recorded." in done.get_data(as_text=True)
    run = wait_for_status(client, run_id, RunStatus.COMPLETED)
    assert run.steps[0].receipt["by"] == "alice" and run.steps[0].receipt["via"] == "email-link"  # type: ignore[index]


def test_a_link_post_without_the_pages_csrf_token_is_refused(workers: Workers, client: Client, app: Any) -> None:
    workers.start(1)
    run_id = client.trigger("notified-approval")
    wait_for_status(client, run_id, RunStatus.WAITING)
    token = minted(client, run_id)
    answer = app.test_client().post(f"/links/{token}", data={})
    assert answer.status_code == 400
    assert client.get_run(run_id).status is RunStatus.WAITING
    assert confirm(app.test_client(), token).status_code == 200  # the link was not spent by the refused POST


def test_contacts_from_the_command_line(client: Client) -> None:
    assert cli(client, "contact", "set", "alice", "alice@example.com").stdout.strip() == "alice: alice@example.com"
    assert cli(client, "contact", "list").stdout == "alice: alice@example.com\n"
    bad = cli(client, "contact", "set", "bob", "not an address")
    assert bad.returncode == 1 and "is not an e-mail address" in bad.stderr
    assert cli(client, "contact", "remove", "alice").returncode == 0
    gone = cli(client, "contact", "remove", "alice")
    assert gone.returncode == 1 and "no address for 'alice'" in gone.stderr
