"""A run's controls on its page and on ``/runs``: cancel (after a confirm page), resume or restart a failed run.

Routes of the pages blueprint (``pages.py`` adds them: its CSRF check and sign-in guard apply). Who
may use them is ``may_control``, the one rule every control route and the run page's buttons follow:
anyone in local mode, a signed-in approver in production. Each control goes through the engine's
client (``cancel_run``, ``dead_letters``), which records who did it in the audit trail.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..engine import RunNotFound, RunStatus
from .security import current_user, open_mode, signed_in
from .state import client

ACTIONS = ("resume", "restart")
MAX_PICKED = 200  # a bulk control's runs: one page of /runs


def may_control() -> bool:
    """Whether the visitor may cancel, resume and restart runs."""
    return open_mode() or signed_in()


def _guarded() -> str:
    """The visitor's name, or a 403 for a visitor who may not control runs."""
    if not may_control():
        abort(403, "Sign in as an approver to cancel, resume or restart runs.")
    return current_user()


def confirm_cancel(run_id: str) -> str:
    """GET: what cancelling the run would do, and the button that does it (a GET never cancels)."""
    _guarded()
    try:
        run = client().get_run(run_id)
    except RunNotFound:
        abort(404, f"There is no run {run_id}.")
    cancellable = run.status in {RunStatus.RUNNING, RunStatus.WAITING}
    return render_template("run_control.html", run=run, cancellable=cancellable)


def cancel_run(run_id: str) -> Response:
    """POST: cancel the run as the signed-in visitor; back to its page with what happened."""
    by = _guarded()
    try:
        status = client().cancel_run(run_id, by=by)
    except RunNotFound:
        abort(404, f"There is no run {run_id}.")
    if status is RunStatus.CANCELLED:
        flash(f"Run cancelled by {by}.", "ok")
    else:
        flash(f"Not cancelled: the run is {status.value} already.", "error")
    return redirect(url_for("pages.run_page", run_id=run_id), 303)


def control_run(run_id: str, action: str) -> Response:
    """POST: resume a failed run from its failed step, or restart it as a new run."""
    by = _guarded()
    if action not in ACTIONS:
        abort(404)
    letters = client().dead_letters
    try:
        if action == "resume":
            done = letters.resume(run_id, by=by)
            said = "Resumed from its failed step." if done else "Not resumed: the run is not failed."
            flash(said, "ok" if done else "error")
            return redirect(url_for("pages.run_page", run_id=run_id), 303)
        new_id = letters.restart(run_id, by=by)
    except RunNotFound:
        abort(404, f"There is no run {run_id}.")
    if new_id is None:
        flash("Not restarted: the run is not failed.", "error")
        return redirect(url_for("pages.run_page", run_id=run_id), 303)
    flash(f"A restart of run {run_id}, by {by}.", "ok")
    return redirect(url_for("pages.run_page", run_id=new_id), 303)


def control_failed(action: str) -> tuple[str, int]:
    """POST from /runs: resume or restart the failed runs picked there; what happened to each."""
    by = _guarded()
    if action not in ACTIONS:
        abort(404)
    picked = list(dict.fromkeys(request.form.getlist("run")))[:MAX_PICKED]
    if not picked:
        return render_template("run_control.html", action=action, results=[], problem="Pick at least one run."), 400
    letters = client().dead_letters
    results: list[tuple[str, str, str]] = []  # (run id, what happened, the new run's id)
    for run_id in picked:
        try:
            if action == "resume":
                results.append((run_id, "resumed" if letters.resume(run_id, by=by) else "not failed", ""))
            else:
                new_id = letters.restart(run_id, by=by)
                results.append((run_id, "restarted" if new_id else "not failed", new_id or ""))
        except RunNotFound:
            results.append((run_id, "no such run", ""))
    return render_template("run_control.html", action=action, results=results, problem=""), 200
