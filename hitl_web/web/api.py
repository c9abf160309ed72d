"""The JSON API of the guide: trigger, notify, and reading runs."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, request, stream_with_context
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from ..approvals import Decider, decide
from ..approvals.decisions import KEPT
from ..approvals.reassignments import reassign_step
from ..engine import (
    InvalidEventData,
    InvalidPayload,
    InvalidRunId,
    NotAllowed,
    RunExists,
    RunNotFound,
    UnknownWorkflow,
)
from .api_models import (
    AuditEntry,
    AuditQuery,
    ErrorBody,
    NotifyAnswer,
    NotifyRequest,
    ReassignAnswer,
    ReassignRequest,
    RunOut,
    RunsAnswer,
    RunsQuery,
    TriggerAnswer,
    TriggerRequest,
    WaiterOut,
    WaitersAnswer,
    decision_out,
    dump,
    run_out,
)
from .auth import principal_for
from .contract import documented, openapi_document
from .limits import BadText, check_text
from .run_filters import BadQuery, find_runs, read_query
from .state import client

bp = Blueprint("api", __name__, url_prefix="/api")

JSONResponse = tuple[dict[str, Any], int]
M = TypeVar("M", bound=BaseModel)


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
    if request.endpoint == "api.openapi":
        return  # the contract is no secret (it describes shapes, no data): client generators read it unsigned
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


# The messages earlier versions gave (clients match them), by pydantic's error type.
_SAID = {"missing": "is required", "string_too_short": "is required", "string_type": "must be a string",
         "list_type": "must be a list of approvers (names, group:NAME)",
         "string_pattern_mismatch": "is not a run id: 1-128 letters, digits, '-' or '_'"}  # fmt: skip


def parsed(model: type[M], data: Any) -> M:
    """``data`` validated by ``model``, or a 400 naming the first bad field (and every one in ``fields``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in errors}
        where, first = next(iter(fields)), errors[0]
        said = _SAID.get(first["type"]) if len(first["loc"]) == 1 else None
        message = f"{where} {said}" if said else f"{where}: {first['msg']}"
        raise BadRequest(400, {"success": False, "error": message, "fields": fields}) from None


ERRORS = {400: ErrorBody, 401: ErrorBody}


@bp.post("/trigger")
@documented(TriggerRequest, {200: TriggerAnswer, **ERRORS, 403: ErrorBody, 409: ErrorBody, 413: ErrorBody})
def trigger() -> JSONResponse:
    """Start a run of a workflow with its payload; the run's id."""
    body = parsed(TriggerRequest, json_body())
    payload = check_data(body.payload, "payload")
    try:
        run_id = client().trigger(body.workflowType, payload, body.workflowRunId, triggered_by=g.principal)
    except (UnknownWorkflow, InvalidPayload, InvalidRunId, InvalidEventData) as exc:
        raise BadRequest(400, {"success": False, "error": str(exc)}) from None
    except NotAllowed as exc:
        raise BadRequest(403, {"success": False, "error": str(exc)}) from None
    except RunExists as exc:
        raise BadRequest(409, {"success": False, "error": str(exc)}) from None
    return dump(TriggerAnswer(workflowRunId=run_id)), 200


DECISION_ERRORS = {**ERRORS, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody}


@bp.post("/notify")
@documented(NotifyRequest, {200: NotifyAnswer, **DECISION_ERRORS})
def notify() -> JSONResponse:
    """Notify an event id (one run's, with workflowRunId): the runs resumed, votes counted, refusals."""
    body = parsed(NotifyRequest, json_body())
    event_data = check_data(body.eventData, "eventData")
    # A bearer token's principal (production) or "api" (local mode) decides as any signed-in approver would.
    decider = Decider(g.principal, True, "api", request.remote_addr or "")
    try:
        decisions = decide(client(), decider, body.eventId, event_data, run_id=body.workflowRunId or None)
    except (InvalidEventData, ValueError) as exc:
        raise BadRequest(400, {"success": False, "error": str(exc)}) from None
    refused = [decision_out(d) for d in decisions if not d.accepted]
    answer = NotifyAnswer(
        notified=[decision_out(d) for d in decisions if d.accepted and d.waiter is not None and not d.counted],
        counted=[decision_out(d) for d in decisions if d.counted] or None,
        refused=refused or None,
        kept=True if any(d.status == KEPT for d in decisions) else None,
    )
    if refused and not answer.notified and not answer.counted:
        # Nothing changed: one decision (a run id, or one waiter) answers with its own reason.
        first = next(d for d in decisions if not d.accepted)
        error: dict[str, Any] = {"success": False, "error": first.message, "refused": [dump(r) for r in refused]}
        if first.invalid is not None:
            error.update(fields=first.invalid.errors, formErrors=first.invalid.form_errors)
        raise BadRequest(first.status, error)
    return dump(answer), 200


@bp.post("/runs/<run_id>/approvals/<int:index>/reassign")
@documented(ReassignRequest, {200: ReassignAnswer, **DECISION_ERRORS})
def reassign(run_id: str, index: int) -> JSONResponse:
    """Give the open ask at step ``index`` to other approvers (names, group:NAME), saying why."""
    body = parsed(ReassignRequest, json_body())
    decider = Decider(g.principal, True, "api", request.remote_addr or "")
    done = reassign_step(client(), decider, run_id, index, body.to, body.reason, open_mode=True)
    if not done.accepted:
        reason_code = done.refusal.value if done.refusal else None
        raise BadRequest(done.status, {"success": False, "error": done.message, "reason": reason_code})
    approvers = client().get_run(run_id).steps[index].approvers
    return ReassignAnswer(message=done.message, approvers=approvers).model_dump(mode="json"), 200


@bp.get("/audit")
@documented(None, {200: AuditEntry, **ERRORS, 403: ErrorBody}, query=AuditQuery, lines=True)
def audit() -> Response:
    """The audit trail as JSON lines, oldest first, by time range (epoch seconds), run and principal.

    In production only the principals in ``HITL_AUDIT_READERS`` may export it.
    """
    if not current_app.config["OPEN_MODE"] and g.principal not in current_app.config["AUDIT_READERS"]:
        raise BadRequest(403, {"success": False, "error": "this principal may not read the audit trail"})
    query = parsed(AuditQuery, request.args.to_dict())
    entries = client().audit.entries(query.since, query.until, query.run, query.principal)
    lines = (json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    return Response(stream_with_context(lines), mimetype="application/x-ndjson")


@bp.get("/runs/<run_id>")
@documented(None, {200: RunOut, 401: ErrorBody, 404: ErrorBody})
def get_run(run_id: str) -> JSONResponse:
    """One run, with its steps, open waits and outcome."""
    try:
        return run_out(client().get_run(run_id)).model_dump(mode="json"), 200
    except RunNotFound:
        raise BadRequest(404, {"success": False, "error": f"no run {run_id!r}"}) from None


@bp.get("/runs")
@documented(None, {200: RunsAnswer, **ERRORS}, query=RunsQuery)
def list_runs() -> JSONResponse:
    """A page of runs (filtered by status, workflow, creation time, a run or event id) and the next page's cursor."""
    parsed(RunsQuery, request.args.to_dict())
    try:
        query = read_query(request.args)
    except BadQuery as exc:
        raise BadRequest(400, {"success": False, "error": str(exc)}) from None
    page = find_runs(client(), query)
    return RunsAnswer(runs=[run_out(r) for r in page.runs], cursor=page.cursor).model_dump(mode="json"), 200


@bp.get("/waiters/<event_id>")
@documented(None, {200: WaitersAnswer, 401: ErrorBody, 404: ErrorBody})
def waiters(event_id: str) -> JSONResponse:
    """The runs waiting on an event id now ([] when none): run, step, deadline, what a timeout resumes with."""
    found = [WaiterOut(workflowRunId=w.run_id, stepName=w.step_name, eventId=w.event_id, deadline=w.deadline)
             for w in client().get_waiters(event_id)]  # fmt: skip
    return WaitersAnswer(waiters=found).model_dump(mode="json"), 200


@bp.get("/openapi.json")
def openapi() -> JSONResponse:
    """The OpenAPI 3.1 document of this API, generated from the models above (contract.py)."""
    return openapi_document(current_app, production=not current_app.config["OPEN_MODE"]), 200
