"""One-click links from messages: ``GET`` shows what the link would decide, only its ``POST`` decides.

Mail scanners prefetch links, so a GET never changes anything. The POST decides as the approver the
link is bound to, through the one decision path (``decide_step``); the receipt says which link.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..approvals import Decider, decide_step
from ..approvals.bulk import bulk_data
from ..engine import RunNotFound, StepStatus
from ..notifications.links import Link, Links
from .security import check_csrf, current_user
from .state import client

INVALID = "This link is not valid, or it has expired."
# Its own blueprint: a link is its own credential, so it is public even when viewing needs a sign-in.
bp = Blueprint("links", __name__)


def _links() -> Links:
    found = client()
    return Links(found.store.redis, found.settings.key_prefix)


def _check(token: str) -> tuple[Link | None, str, int]:
    """The link ``token`` names, or why it cannot decide (a message and its status): one answer for any bad token."""
    link = _links().find(token)
    if link is None:
        return None, INVALID, 404
    if link.used:
        return link, "This link was already used: each link decides once.", 410
    try:
        run = client().get_run(link.run_id)
    except RunNotFound:
        return None, INVALID, 404
    step = run.steps[link.index] if link.index < len(run.steps) else None
    if step is None or step.status is not StepStatus.WAITING:
        return link, "This approval is no longer open: it was decided, expired or closed.", 410
    if step.prompt_sha256() != link.prompt_sha256:
        return link, "This link is no longer valid: the approval was reassigned or changed since it was sent.", 410
    return link, "", 200


def _label(link: Link) -> str:
    step = client().get_run(link.run_id).steps[link.index]
    labels = dict((key, label) for key, label in step.options or []) or {"approve": "Approve", "reject": "Reject"}
    return labels.get(link.action, link.action)


@bp.get("/links/<token>")
def link_confirm(token: str) -> tuple[str, int]:
    """What the link would decide, and a button that does it: never a decision by itself."""
    link, problem, status = _check(token)
    if problem or link is None:
        return render_template("link.html", problem=problem), status
    run = client().get_run(link.run_id)
    step = run.steps[link.index]
    login = client().settings.links_require_login and current_user() != link.approver
    return render_template(
        "link.html", link=link, run=run, step=step, label=_label(link), token=token, login=login
    ), 200


@bp.post("/links/<token>")
def link_use(token: str) -> Response | tuple[str, int]:
    """Decide as the link's approver, once."""
    check_csrf()  # the confirm page's own form: a page elsewhere cannot make a browser spend the link
    link, problem, status = _check(token)
    if problem or link is None:
        return render_template("link.html", problem=problem), status
    if client().settings.links_require_login and current_user() != link.approver:
        return redirect(url_for("pages.login_form", next=request.path), 303)
    if not _links().use(link):
        return render_template("link.html", problem="This link was already used: each link decides once."), 410
    decider = Decider(link.approver, True, link.via, request.remote_addr or "", link.id)
    decision = decide_step(
        client(), decider, link.run_id, link.index, bulk_data(link.action), comment="", open_mode=False
    )
    return render_template("link.html", decided=decision, link=link), decision.status if not decision.accepted else 200
