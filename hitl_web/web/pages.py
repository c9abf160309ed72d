"""Server-rendered pages and their forms: sign in, start a run, watch it, decide its approval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from ..approvals import Decider, Decision, decide_step
from ..approvals.bulk import decide_picked, parse_picked
from ..approvals.reassignments import parse_targets, reassign_step
from ..engine import InvalidPayload, NotAllowed, RunNotFound, Step, UnknownWorkflow, get_workflow, workflow_names
from ..engine.forms import form_model
from ..notifications.deliveries import Deliveries
from . import run_controls
from .fragments import render_fragment
from .inbox import inbox_items
from .payload_form import StartForm, form_values, parse_submission, start_form, start_forms
from .runs_page import runs_page
from .security import check_csrf, current_user, current_viewer, open_mode, sign_in, sign_out, signed_in
from .state import approvers, client, realtime, signin_limits
from .viewer import with_groups
from .views import VALUE_PREFIX, ApprovalView, approval_view, run_view, timeline

bp = Blueprint("pages", __name__)

bp.add_url_rule("/runs", view_func=runs_page)  # runs_page.py: every run, filtered, a page at a time
# run_controls.py: cancel (a confirm page first), resume or restart failed runs, one or those picked on /runs
bp.add_url_rule("/runs/<run_id>/cancel", view_func=run_controls.confirm_cancel, methods=["GET"])
bp.add_url_rule("/runs/<run_id>/cancel", view_func=run_controls.cancel_run, methods=["POST"])
bp.add_url_rule("/runs/<run_id>/<action>", view_func=run_controls.control_run, methods=["POST"])
bp.add_url_rule("/runs/failed/<action>", view_func=run_controls.control_failed, methods=["POST"])
PUBLIC_ENDPOINTS = {"pages.login", "pages.login_form", "static", "healthz"}


@bp.before_app_request
def guard() -> Response | None:
    """Every form POST carries this session's CSRF token; viewing may require signing in."""
    if request.blueprint != "pages":
        return None
    if request.method == "POST":
        check_csrf()
    if current_app.config["REQUIRE_LOGIN_TO_VIEW"] and not signed_in() and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("pages.login_form", next=request.path), 303)
    return None


def is_htmx() -> bool:
    """True for requests made by htmx (which swap a fragment instead of loading a page)."""
    return request.headers.get("HX-Request") == "true"


def decider() -> Decider:
    """The visitor as a decider: their session's name, never what a form says."""
    return Decider(current_user(), signed_in(), "form", request.remote_addr or "")


@bp.get("/login")
def login_form() -> str:
    """The approvers' sign-in form."""
    return render_template("login.html", next=request.args.get("next", "/"), error=None)


@bp.post("/login")
def login() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Sign an approver in; a wrong name or password gets the same answer, and repeated ones a 429."""
    name = (request.form.get("name") or "")[:64]
    address = request.remote_addr or ""
    limits = signin_limits()
    wait = limits.attempt(name, address)
    if wait:
        error = f"Too many wrong passwords: try again in {wait} s."
        page = render_template("login.html", next=request.form.get("next", "/"), error=error)
        return page, 429, {"Retry-After": str(wait)}
    if not approvers().check(name, request.form.get("password") or ""):
        return render_template("login.html", next=request.form.get("next", "/"), error="Wrong name or password."), 401
    limits.succeeded(name, address)
    sign_in(name)
    target = request.form.get("next") or "/"
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/", 303)


@bp.post("/logout")
def logout() -> Response:
    """End the session here and in every web process."""
    sign_out()
    return redirect(url_for("pages.index"), 303)


@bp.get("/")
def index(submitted: StartForm | None = None) -> str:
    """Start a workflow (``submitted``: a start form coming back with errors); see runs and waits, live."""
    c = client()
    return render_template(
        "index.html",
        forms=start_forms(submitted),
        runs=c.list_runs(limit=20),
        waiting=[run_view(r) for r in c.list_runs(status="waiting", limit=50)],
        after=realtime().last_all_id(),
        errors=get_flashed_messages(category_filter=["error"]),
    )


@bp.get("/inbox")
def inbox_page() -> str:
    """The open asks the visitor may decide across all runs, soonest deadline first, live."""
    workflow = request.args.get("workflow", "")[:200]
    c = client()
    viewer = with_groups(current_viewer(), c)
    after = realtime().last_all_id()  # read first: a later event can only re-render more
    items = inbox_items(c, viewer, workflow) if viewer.open_mode or viewer.approver else []
    return render_template("inbox.html", items=items, workflow=workflow, workflows=workflow_names(), after=after)


@bp.post("/inbox/bulk")
def bulk_decide() -> Response | str:
    """Approve or reject the asks picked in the inbox: a confirm page first, then each decided on its own."""
    picked, choice = parse_picked(request.form.getlist("ask")), request.form.get("decision", "")
    if not picked or choice not in {"approve", "reject"}:
        flash("Pick one or more asks, then Approve or Reject.", "error")
        return redirect(url_for("pages.inbox_page"), 303)
    comment = (request.form.get("comment") or "")[:1000]
    if request.form.get("confirm") != "yes":
        runs = {ask.run_id: _run_or_none(ask.run_id) for ask in picked}
        shown = [(ask, runs[ask.run_id]) for ask in picked]
        return render_template("bulk.html", confirm=shown, choice=choice, comment=comment)
    results = decide_picked(client(), decider(), picked, choice, comment, open_mode=open_mode())
    return render_template("bulk.html", results=results, choice=choice)


def _run_or_none(run_id: str) -> Any:
    try:
        return client().get_run(run_id)
    except RunNotFound:
        return None


@bp.post("/runs")
def start_run() -> Response | tuple[str, int]:
    """Trigger a workflow from its start form, then show its run; an invalid form comes back (400), nothing started."""
    name = request.form.get("workflow", "")
    if not open_mode() and not signed_in():
        # Production: a run's starter is a real principal (separation of duties rests on it), never a guest.
        abort(403, description="Sign in to start a run.")
    try:
        model, payload = get_workflow(name).payload_model, None
        if model is not None:
            outcome = parse_submission(model, request.form)
            if outcome.payload is None:
                # A plain page (no JavaScript needed): the values as typed, pydantic's messages beside their fields.
                return index(start_form(name, request.form, outcome)), 400
            payload = outcome.payload
        run_id = client().trigger(name, payload, triggered_by=current_user())
    except (UnknownWorkflow, InvalidPayload) as exc:
        flash(str(exc), "error")
        return redirect(url_for("pages.index"), 303)
    except NotAllowed as exc:
        abort(403, description=f"You may not start this workflow: {exc}.")
    return redirect(url_for("pages.run_page", run_id=run_id), 303)


@bp.get("/runs/<run_id>")
def run_page(run_id: str, refused: ApprovalView | None = None) -> str:
    """One run: status, steps and approval prompts, live over a WebSocket from this render on.

    ``refused``: a typed decision coming back with its errors, in place of its prompt.
    """
    after = realtime().channel(run_id).last_id()  # read first: a later event can only re-render more
    try:
        run = client().get_run(run_id)
    except RunNotFound:
        abort(404, description=f"There is no run {run_id}.")
    notices = get_flashed_messages(with_categories=True)
    view = run_view(run, with_groups(current_viewer(), client()))
    if refused is not None:
        view.approvals = [refused if a.index == refused.index else a for a in view.approvals]
    trail = timeline(client(), run)
    sent = Deliveries(client().store.redis, client().settings.key_prefix).of_run(run_id)
    return render_template("run.html", run=view, after=after, notices=notices, timeline=trail, deliveries=sent)


def _typed(run_id: str, index: int) -> bool:
    """Whether step ``index`` of the run is a typed ask (False when there is none)."""
    try:
        return bool(client().get_run(run_id).steps[index].form)
    except (RunNotFound, IndexError):
        return False


def decision_data(choice: str) -> Callable[[Step], Any]:
    """What the form decides on a step: the guide's ``{approved}``, or a typed ask's ``{option, values}`` as typed."""

    def data(step: Step) -> Any:
        if not step.form:
            return {"approved": choice == "approve"}
        model = form_model(step.form)
        return {"option": choice, "values": form_values(model, request.form, VALUE_PREFIX)[0] if model else {}}

    return data


@bp.post("/runs/<run_id>/approvals/<int:index>")
def decide_approval(run_id: str, index: int) -> Response | tuple[str, int]:
    """Decide from the page: in place with htmx, by redirect (303) without JavaScript."""
    choice = request.form.get("decision") or ""
    if choice not in {"approve", "reject"} and not _typed(run_id, index):
        flash("Choose Approve or Reject.", "error")  # a typed ask's own options are the form's to check
        return redirect(url_for("pages.run_page", run_id=run_id), 303)
    comment = (request.form.get("comment") or "")[:1000]
    data = decision_data(choice)
    decision = decide_step(client(), decider(), run_id, index, data, comment=comment, open_mode=open_mode())
    if decision.status == 404:
        abort(404, description=decision.message)
    if decision.invalid is not None:
        # Nothing decided: the form comes back as typed, pydantic's messages beside their fields (400).
        run = client().get_run(run_id)
        viewer = with_groups(current_viewer(), client())
        refused = approval_view(run, index, run.steps[index], request.form, decision.invalid, viewer)
        if is_htmx():
            return render_fragment("approval", approval=refused, notice=decision.message), 400
        flash(decision.message, "error")
        return run_page(run_id, refused), 400
    return _answer(run_id, index, decision)


@bp.post("/runs/<run_id>/approvals/<int:index>/reassign")
def reassign_approval(run_id: str, index: int) -> Response | tuple[str, int]:
    """Give an open ask to other approvers from the page (the same policy as deciding it)."""
    to = parse_targets((request.form.get("to") or "")[:4000])
    reason = (request.form.get("reason") or "")[:1000]
    done = reassign_step(client(), decider(), run_id, index, to, reason, open_mode=open_mode())
    if done.status == 404:
        abort(404, description=done.message)
    return _answer(run_id, index, done)


def _answer(run_id: str, index: int, decision: Decision) -> Response | tuple[str, int]:
    """What the prompt's forms answer: the prompt in place (htmx), or a redirect (303) with a notice."""
    if is_htmx():
        # The page's htmx swaps 400, 403 and 409 answers too (static/app.js): the prompt says why.
        run = client().get_run(run_id)
        approval = approval_view(run, index, run.steps[index], viewer=with_groups(current_viewer(), client()))
        fragment = render_fragment("approval", approval=approval, notice=decision.message, accepted=decision.accepted)
        return fragment, decision.status
    if decision.status == 403:
        abort(403, description=decision.message)
    flash(decision.message, "ok" if decision.accepted else "error")
    return redirect(url_for("pages.run_page", run_id=run_id), 303)
