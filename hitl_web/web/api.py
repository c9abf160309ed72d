"""The JSON API of the guide: trigger, notify, and reading runs."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, request, stream_with_context
from werkzeug.exceptions import HTTPException

from ..approvals import Decider, Decision, decide
from ..approvals.decisions import KEPT
from ..approvals.reassignments import reassign_step
from ..engine import (
    InvalidEventData,
    InvalidPayload,
    InvalidRunId,
    NotAllowed,
    Run,
    RunExists,
    RunNotFound,
    UnknownWorkflow,
)
from .auth import principal_for
from .limits import BadText, check_text
from .run_filters import BadQuery, find_runs, read_query
from .state import client

bp = Blueprint("api", __name__, url_prefix="/api")

JSONResponse = tuple[dict[str, Any], int]


class BadRequest(Exception):
    """A request the API refuses, with its status and the JSON body to answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error"))
        self.status, self.body = status, body


@bp.errorhandler(BadRequest)
def bad_request(exc: BadRequest) -> JSONResponse:
    """Refusals as JSON."""
    return exc.body, exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> JSONResponse:
    """Every HTTP error of the API as JSON, never an HTML page."""
    return {"success": False, "error": exc.description or exc.name}, exc.code or 500


MAX_DEPTH = 32
MAX_DATA_BYTES = 64 * 1024


@bp.before_request
def authenticate() -> None:
    """In production every API call names its principal with ``Authorization: Bearer <token>``."""
    if current_app.config["OPEN_MODE"]:
        g.principal = "api"
        return
    principal = principal_for(current_app.config["API_PRINCIPALS"], request.headers.get("Authorization"))
    if principal is None:
        raise BadRequest(401, {"success": False, "error": "a valid 'Authorization: Bearer <token>' is required"})
    g.principal = principal


def depth(value: Any) -> int:
    """How deeply JSON containers nest in ``value`` (iteratively: hostile input cannot blow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_data(value: Any, what: str) -> Any:
    """``value`` when it is within the nesting and size limits, else a 400/413 saying which."""
    if depth(value) > MAX_DEPTH:
        raise BadRequest(400, {"success": False, "error": f"{what} nests deeper than {MAX_DEPTH} levels"})
    if len(json.dumps(value)) > MAX_DATA_BYTES:
        raise BadRequest(413, {"success": False, "error": f"{what} is larger than {MAX_DATA_BYTES // 1024} KB"})
    return value


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 saying what is wrong with it."""
    if not request.is_json:
        raise BadRequest(400, {"success": False, "error": "the body must be JSON (Content-Type: application/json)"})
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        raise BadRequest(400, {"success": False, "error": "the body must be JSON (it does not parse)"}) from None
    if not isinstance(body, dict):
        raise BadRequest(400, {"success": False, "error": "the body must be a JSON object"})
    try:  # JSON's "\ud800" escapes parse, but no page could show them once stored
        for name, value in body.items():
            check_text(name, "a field name")
            check_text(value, name)
    except BadText as exc:
        raise BadRequest(400, {"success": False, "error": str(exc)}) from None
    return body


def run_json(run: Run) -> dict[str, Any]:
    """A run in the API's camelCase shape."""
    return {
        "workflowRunId": run.run_id,
        "workflowType": run.workflow,
        "status": run.status.value,
        "payload": run.payload,
        "createdAt": run.created_at,
        "updatedAt": run.updated_at,
        "finishedAt": run.finished_at,
        "steps": [
            {
                "stepName": s.name,
                "type": s.type.value,
                "status": s.status.value,
                "result": s.result,
                "error": s.error,
                "attempts": s.attempts,
                "startedAt": s.started_at,
                "finishedAt": s.finished_at,
                **({"eventId": s.event_id, "message": s.message, "deadline": s.deadline} if s.event_id else {}),
                **({"receipt": s.receipt} if s.receipt else {}),
                **({"quorum": s.quorum} if s.quorum else {}),
            }
            for s in run.steps
        ],
        "waiting": [
            {
                "eventId": w.event_id,
                "stepName": w.step_name,
                "deadline": w.deadline,
                "message": next((s.message for s in run.steps if s.event_id == w.event_id), None),
            }
            for w in run.waits
        ],
        "result": run.result,
        "error": run.error,
        "triggeredBy": run.triggered_by,
        "votes": {str(index): votes for index, votes in run.votes.items()},  # quorum asks' votes, by step
    }


@bp.post("/trigger")
def trigger() -> JSONResponse:
    """Start a run: ``{"workflowType": ..., "payload": {...}}`` -> ``{"workflowRunId": ...}``."""
    body = json_body()
    workflow_type = body.get("workflowType")
    if not isinstance(workflow_type, str) or not workflow_type:
        raise BadRequest(400, {"error": "workflowType is required"})
    run_id = body.get("workflowRunId")
    if run_id is not None and not isinstance(run_id, str):
        raise BadRequest(400, {"error": "workflowRunId must be a string"})
    payload = check_data(body.get("payload"), "payload")
    try:
        run_id = client().trigger(workflow_type, payload, run_id, triggered_by=g.principal)
    except (UnknownWorkflow, InvalidPayload, InvalidRunId, InvalidEventData) as exc:
        raise BadRequest(400, {"error": str(exc)}) from None
    except NotAllowed as exc:
        raise BadRequest(403, {"error": str(exc)}) from None
    except RunExists as exc:
        raise BadRequest(409, {"error": str(exc)}) from None
    return {"workflowRunId": run_id}, 200


@bp.post("/notify")
def notify() -> JSONResponse:
    """Notify an event id: ``{"eventId", "eventData", "workflowRunId"?}`` -> the runs resumed."""
    body = json_body()
    event_id = body.get("eventId")
    if not event_id:
        raise BadRequest(400, {"success": False, "error": "eventId is required"})
    if not isinstance(event_id, str):
        raise BadRequest(400, {"success": False, "error": "eventId must be a string"})
    run_id = body.get("workflowRunId")
    if run_id is not None and not isinstance(run_id, str):
        raise BadRequest(400, {"success": False, "error": "workflowRunId must be a string"})
    event_data = check_data(body.get("eventData"), "eventData")
    # A bearer token's principal (production) or "api" (local mode) decides as any signed-in approver would.
    decider = Decider(g.principal, True, "api", request.remote_addr or "")
    try:
        decisions = decide(client(), decider, event_id, event_data, run_id=run_id or None)
    except (InvalidEventData, ValueError) as exc:
        raise BadRequest(400, {"success": False, "error": str(exc)}) from None
    notified = [decision_json(d) for d in decisions if d.accepted and d.waiter is not None and not d.counted]
    counted = [decision_json(d) for d in decisions if d.counted]
    refused = [decision_json(d) for d in decisions if not d.accepted]
    if refused and not notified and not counted:
        # Nothing changed: one decision (a run id, or one waiter) answers with its own reason.
        first = next(d for d in decisions if not d.accepted)
        body = {"success": False, "error": first.message, "refused": refused}
        if first.invalid is not None:
            body.update(fields=first.invalid.errors, formErrors=first.invalid.form_errors)
        raise BadRequest(first.status, body)
    answer: dict[str, Any] = {"success": True, "notified": notified}
    if counted:
        answer["counted"] = counted  # quorum asks: the vote counts, and the ask stays open
    if refused:
        answer["refused"] = refused  # several runs waited on the event id; some refused this principal
    if any(d.status == KEPT for d in decisions):
        answer["kept"] = True  # lookback: the run has not reached its wait yet
    return answer, 200


@bp.post("/runs/<run_id>/approvals/<int:index>/reassign")
def reassign(run_id: str, index: int) -> JSONResponse:
    """Give the open ask at step ``index`` to others: ``{"to": ["bob", "group:legal"], "reason": "..."}``."""
    body = json_body()
    to, reason = body.get("to"), body.get("reason")
    if not isinstance(to, list) or not all(isinstance(name, str) for name in to):
        raise BadRequest(400, {"success": False, "error": "to must be a list of approvers (names, group:NAME)"})
    if not isinstance(reason, str):
        raise BadRequest(400, {"success": False, "error": "reason must be a string"})
    decider = Decider(g.principal, True, "api", request.remote_addr or "")
    done = reassign_step(client(), decider, run_id, index, to, reason, open_mode=True)
    if not done.accepted:
        reason_code = done.refusal.value if done.refusal else None
        raise BadRequest(done.status, {"success": False, "error": done.message, "reason": reason_code})
    return {"success": True, "message": done.message, "approvers": client().get_run(run_id).steps[index].approvers}, 200


@bp.get("/audit")
def audit() -> Response:
    """The audit trail as JSON lines, oldest first: ``?since=&until=`` (epoch seconds), ``&run=``, ``&principal=``.

    In production only the principals in ``HITL_AUDIT_READERS`` may export it.
    """
    if not current_app.config["OPEN_MODE"] and g.principal not in current_app.config["AUDIT_READERS"]:
        raise BadRequest(403, {"success": False, "error": "this principal may not read the audit trail"})
    bounds: dict[str, float | None] = {}
    for name in ("since", "until"):
        raw = request.args.get(name)
        try:
            bounds[name] = float(raw) if raw else None
        except ValueError:
            raise BadRequest(400, {"success": False, "error": f"{name} must be a number (epoch seconds)"}) from None
    run_id, principal = request.args.get("run"), request.args.get("principal")
    entries = client().audit.entries(bounds["since"], bounds["until"], run_id, principal)
    lines = (json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    return Response(stream_with_context(lines), mimetype="application/x-ndjson")


def decision_json(decision: Decision) -> dict[str, Any]:
    """One run's decision as the notify call reports it."""
    waiter = decision.waiter
    data: dict[str, Any] = {"workflowRunId": decision.run_id}
    if waiter is not None:
        data.update(eventId=waiter.event_id, stepName=waiter.step_name, deadline=waiter.deadline)
    if not decision.accepted:
        data.update(error=decision.message, reason=decision.refusal.value if decision.refusal else None)
    if decision.tally is not None:
        data.update(approvals=decision.tally.approvals, needed=decision.tally.needed)
    if decision.invalid is not None:  # a typed ask's form refused it: pydantic's messages by field
        data.update(reason="invalid", fields=decision.invalid.errors, formErrors=decision.invalid.form_errors)
    return data


@bp.get("/runs/<run_id>")
def get_run(run_id: str) -> JSONResponse:
    """One run, with its steps, open waits and outcome."""
    try:
        return run_json(client().get_run(run_id)), 200
    except RunNotFound:
        raise BadRequest(404, {"error": f"no run {run_id!r}"}) from None


@bp.get("/runs")
def list_runs() -> JSONResponse:
    """A page of runs (``/runs``'s filters: status, workflow, since, until, q, limit) and the next page's cursor."""
    try:
        query = read_query(request.args)
    except BadQuery as exc:
        raise BadRequest(400, {"success": False, "error": str(exc)}) from None
    page = find_runs(client(), query)
    return {"runs": [run_json(r) for r in page.runs], "cursor": page.cursor}, 200


@bp.get("/waiters/<event_id>")
def waiters(event_id: str) -> JSONResponse:
    """The runs waiting on ``event_id`` now (``[]`` when none): run, step, deadline, and what a timeout resumes with."""
    found = [{"workflowRunId": w.run_id, "stepName": w.step_name, "eventId": w.event_id, "deadline": w.deadline,
              "timeout": {"eventData": None, "timeout": True}} for w in client().get_waiters(event_id)]  # fmt: skip
    return {"waiters": found}, 200
