"""Server-rendered pages and their forms: start a run, watch it, decide its approval."""

from __future__ import annotations

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..workflow import InvalidPayload, RunNotFound, UnknownWorkflow, workflow_names
from .decisions import decide
from .fragments import render_fragment
from .security import check_csrf, current_user
from .state import client, realtime
from .views import run_view

bp = Blueprint("pages", __name__)


@bp.before_request
def protect_forms() -> None:
    """Every form POST carries this session's CSRF token."""
    if request.method == "POST":
        check_csrf()


def is_htmx() -> bool:
    """True for requests made by htmx (which swap a fragment instead of loading a page)."""
    return request.headers.get("HX-Request") == "true"


@bp.get("/")
def index() -> str:
    """Start a workflow; see recent runs and what waits for an approver, live."""
    c = client()
    return render_template(
        "index.html",
        workflows=workflow_names(),
        runs=c.list_runs(limit=20),
        waiting=[run_view(r) for r in c.list_runs(status="waiting", limit=50)],
        after=realtime().last_all_id(),
        errors=get_flashed_messages(category_filter=["error"]),
    )


@bp.post("/runs")
def start_run() -> Response | tuple[str, int]:
    """Trigger a workflow from the index page's form, then show its run."""
    name = request.form.get("workflow", "")
    payload = {"userId": current_user(), "action": request.form.get("action") or "publish"}
    try:
        run_id = client().trigger(name, payload if name == "human-in-loop" else None)
    except (UnknownWorkflow, InvalidPayload) as exc:
        flash(str(exc), "error")
        return redirect(url_for("pages.index"), 303)
    return redirect(url_for("pages.run_page", run_id=run_id), 303)


@bp.get("/runs/<run_id>")
def run_page(run_id: str) -> str:
    """One run: status, steps and approval prompts, live over a WebSocket from this render on."""
    after = realtime().channel(run_id).last_id()  # read first: a later event can only re-render more
    try:
        run = client().get_run(run_id)
    except RunNotFound:
        abort(404, description=f"There is no run {run_id}.")
    notices = get_flashed_messages(with_categories=True)
    return render_template("run.html", run=run_view(run), after=after, notices=notices)


@bp.post("/runs/<run_id>/approvals/<int:index>")
def decide_approval(run_id: str, index: int) -> Response | tuple[str, int]:
    """Approve or reject from the page: in place with htmx, by redirect (303) without JavaScript."""
    choice = request.form.get("decision")
    if choice not in {"approve", "reject"}:
        flash("Choose Approve or Reject.", "error")
        return redirect(url_for("pages.run_page", run_id=run_id), 303)
    outcome = decide(
        client(),
        run_id,
        index,
        {"approved": choice == "approve"},
        by=current_user(),
        via="form",
        comment=(request.form.get("comment") or "")[:1000],
        ip=request.remote_addr or "",
    )
    if outcome.approval is None:
        abort(outcome.status, description=outcome.message)
    if is_htmx():
        # htmx swaps 2xx answers only: a refusal is a normal answer showing who decided first.
        fragment = render_fragment(
            "approval", approval=outcome.approval, notice=outcome.message, accepted=outcome.accepted
        )
        return fragment, 200
    flash(outcome.message, "ok" if outcome.accepted else "error")
    return redirect(url_for("pages.run_page", run_id=run_id), 303)
