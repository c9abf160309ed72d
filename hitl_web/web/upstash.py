"""Upstash Workflow's REST paths (``/v2/...``), so a team's ``@upstash/workflow`` Client can point at hitl-web.

``new Client({ baseUrl, token })`` sends these with ``Authorization: Bearer <token>``; the answers
take the package's shapes (``NotifyResponse[]``, ``Waiter[]``, ``WorkflowRunLogs``). A notify goes
through the one decision path (``decide``) as the token's principal, like every other entry point.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, g, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from ..approvals import Decider, Decision, decide
from ..engine import InvalidEventData, Run, RunNotFound, RunStatus, Step, StepStatus, StepType, Waiter
from ..engine.run_pages import RunFilter
from .api import BadRequest, check_data
from .auth import principal_for
from .limits import BadText, check_text
from .run_filters import BadQuery, RunQuery, find_runs, read_query
from .state import client

bp = Blueprint("upstash", __name__, url_prefix="/v2")

Answer = tuple[Any, int]
STATES = {  # Upstash's run states, and the statuses each covers
    "RUN_STARTED": (RunStatus.RUNNING, RunStatus.WAITING),
    "RUN_SUCCESS": (RunStatus.COMPLETED,),
    "RUN_FAILED": (RunStatus.FAILED,),
    "RUN_CANCELED": (RunStatus.CANCELLED,),
}
STATE_OF = {status: state for state, statuses in STATES.items() for status in statuses}
STEP_TYPES = {StepType.RUN: "Run", StepType.WAIT: "Wait", StepType.SLEEP: "SleepFor"}


@bp.errorhandler(BadRequest)
def refused(exc: BadRequest) -> Answer:
    """Refusals as JSON (the package raises them as ``QstashError`` with this body)."""
    return {"error": exc.body.get("error"), **{k: v for k, v in exc.body.items() if k not in {"success", "error"}}}, (
        exc.status
    )


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Answer:
    """Every HTTP error here as JSON."""
    return {"error": exc.description or exc.name}, exc.code or 500


@bp.before_request
def authenticate() -> None:
    """The bearer token names the principal (local mode: ``api``), as on ``/api``."""
    if current_app.config["OPEN_MODE"]:
        g.principal = "api"
        return
    principal = principal_for(current_app.config["API_PRINCIPALS"], request.headers.get("Authorization"))
    if principal is None:
        raise BadRequest(401, {"error": "a valid 'Authorization: Bearer <token>' is required"})
    g.principal = principal


def event_data() -> Any:
    """The body as the event's data: JSON when it parses, else the raw text (as Upstash takes it)."""
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, {"error": "the body must be UTF-8 text or JSON"}) from None
    try:
        data: Any = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):
        data = text
    try:
        check_text(data, "the event data")
    except BadText as exc:
        raise BadRequest(400, {"error": str(exc)}) from None
    return check_data(data, "the event data")


def workflow_url(name: str) -> str:
    """A workflow's URL as Upstash names runs' workflows: its page of runs here."""
    return url_for("pages.runs_page", workflow=name, _external=True)


def workflow_of(url: str) -> str:
    """The workflow a ``workflowUrl`` filter names: this server's ``workflow_url``, or a bare name."""
    found = parse_qs(urlsplit(url).query).get("workflow")
    return found[0] if found else url.rstrip("/").rsplit("/", 1)[-1]


def waiter_json(waiter: Waiter) -> dict[str, Any]:
    """A waiter in Upstash's shape (``deadline`` in Unix seconds), with the run and step it is."""
    return {
        "url": url_for("pages.run_page", run_id=waiter.run_id, _external=True),
        "deadline": int(waiter.deadline),
        "headers": {},
        "timeoutBody": {"eventData": None, "timeout": True},  # what the run resumes with at the deadline
        "workflowRunId": waiter.run_id,
        "stepName": waiter.step_name,
        "eventId": waiter.event_id,
    }


def notified_json(decision: Decision) -> dict[str, Any]:
    """One entry of notify's answer: the waiter it reached, the message that resumes it, and any refusal."""
    assert decision.waiter is not None
    message_id = f"msg_{decision.run_id}_{decision.index if decision.index is not None else ''}"
    return {"waiter": waiter_json(decision.waiter), "messageId": message_id, "error": "" if decision.accepted else (
        decision.message)}  # fmt: skip


def notify_as(event_id: str, run_id: str | None) -> Answer:
    """Decide the waits on ``event_id`` as the token's principal; ``[]`` when nobody waits."""
    decider = Decider(g.principal, True, "upstash-api", request.remote_addr or "")
    data = event_data()
    try:
        decisions = decide(client(), decider, event_id, data, run_id=run_id)
    except (InvalidEventData, ValueError) as exc:
        raise BadRequest(400, {"error": str(exc)}) from None
    reached = [d for d in decisions if d.waiter is not None]
    if reached and not any(d.accepted for d in reached):  # refused, as every other path refuses it
        first = reached[0]
        body: dict[str, Any] = {"error": first.message, "reason": first.refusal.value if first.refusal else None}
        if first.invalid is not None:
            body.update(reason="invalid", fields=first.invalid.errors, formErrors=first.invalid.form_errors)
        raise BadRequest(first.status, body)
    return [notified_json(d) for d in reached], 200


@bp.post("/notify/<event_id>")
def notify(event_id: str) -> Answer:
    """``client.notify({eventId, eventData})``."""
    return notify_as(event_id, None)


@bp.post("/notify/<run_id>/<event_id>")
def notify_run(run_id: str, event_id: str) -> Answer:
    """``client.notify({eventId, eventData, workflowRunId})``: that run only, with lookback."""
    return notify_as(event_id, run_id)


@bp.get("/waiters/<event_id>")
def waiters(event_id: str) -> Answer:
    """``client.getWaiters({eventId})``."""
    return [waiter_json(w) for w in client().get_waiters(event_id)], 200


@bp.delete("/workflows/runs/<run_id>")
def cancel_one(run_id: str) -> Answer:
    """Cancel one run (what ``context.cancel`` and older clients send, with ``?cancel=true``)."""
    try:
        status = client().cancel_run(run_id, by=g.principal)  # the audit trail names the token
    except RunNotFound:
        raise BadRequest(404, {"error": f"no workflow run {run_id!r}"}) from None
    except ValueError as exc:
        raise BadRequest(400, {"error": str(exc)}) from None
    if status is not RunStatus.CANCELLED:
        raise BadRequest(400, {"error": f"workflow run {run_id!r} is already {status.value}"})
    return {"cancelled": 1}, 200


@bp.delete("/workflows/runs")
def cancel_many() -> Answer:
    """``client.cancel(ids)`` or ``client.cancel({filter})`` / ``({all: true})``: ``{cancelled: n}``."""
    ids = request.args.getlist("workflowRunIds")
    url = request.args.get("workflowUrl")
    if ids:
        return {"cancelled": client().cancel(ids=ids, by=g.principal)}, 200
    if url:
        return {"cancelled": client().cancel(workflow=workflow_of(url), by=g.principal)}, 200
    if request.args.get("count") is not None:  # {all: true}
        every = (RunStatus.WAITING, RunStatus.RUNNING)
        return {"cancelled": sum(client().cancel(status=s, by=g.principal) for s in every)}, 200
    raise BadRequest(400, {"error": "say which runs to cancel: workflowRunIds, workflowUrl, or all"})


def ms(seconds: float | None) -> int | None:
    """Unix milliseconds, as Upstash's logs keep times."""
    return round(seconds * 1000) if seconds is not None else None


def step_log(run: Run, index: int, step: Step) -> dict[str, Any]:
    """One step of a run as Upstash's ``StepLog``."""
    done = step.status is StepStatus.COMPLETED
    log: dict[str, Any] = {
        "stepId": index + 1,
        "stepName": step.name,
        "stepType": STEP_TYPES.get(step.type, "Run"),
        "callType": "step",
        "messageId": f"msg_{run.run_id}_{index}",
        "out": json.dumps(step.result) if done and step.result is not None else None,
        "retries": max(step.attempts - 1, 0),
        "concurrent": 1,
        "state": "STEP_SUCCESS" if done else "STEP_FAILED" if step.status is StepStatus.FAILED else "STEP_PROGRESS",
        "createdAt": ms(step.started_at),
        "headers": {},
    }
    if step.type is StepType.WAIT:
        timed_out = done and isinstance(step.result, dict) and step.result.get("timeout") is True
        log.update(waitEventId=step.event_id or "", waitTimeoutDeadline=ms(step.deadline), waitTimeout=timed_out)
    return log


def run_log(run: Run) -> dict[str, Any]:
    """A run as Upstash's ``WorkflowRunLog``."""
    log: dict[str, Any] = {
        "workflowRunId": run.run_id,
        "workflowUrl": workflow_url(run.workflow),
        "workflowState": STATE_OF[run.status],
        "workflowRunCreatedAt": ms(run.created_at),
        "steps": [{"type": "sequential", "steps": [step_log(run, i, s)]} for i, s in enumerate(run.steps)],
    }
    if run.finished_at is not None:
        log["workflowRunCompletedAt"] = ms(run.finished_at)
    if run.status is RunStatus.COMPLETED:
        log["workflowRunResponse"] = json.dumps(run.result)
    return log


@bp.get("/workflows/events")
def logs() -> Answer:
    """``client.logs({cursor, count, filter})``: ``{cursor, runs}``, newest first, a page per call."""
    args = request.args
    if args.get("workflowRunId"):
        try:
            return {"cursor": "", "runs": [run_log(client().get_run(args["workflowRunId"]))]}, 200
        except (RunNotFound, ValueError):
            return {"cursor": "", "runs": []}, 200
    state = args.get("state")
    if state is not None and state not in STATES:
        raise BadRequest(400, {"error": f"state must be one of {', '.join(STATES)}"})
    try:
        query = read_query(MultiDict({"cursor": args.get("cursor", ""), "limit": args.get("count") or "10"}))
    except BadQuery as exc:
        raise BadRequest(400, {"error": str(exc).replace("limit", "count")}) from None
    try:
        at = int(args["workflowCreatedAt"]) / 1000 if args.get("workflowCreatedAt") else None
    except ValueError:
        raise BadRequest(400, {"error": "workflowCreatedAt must be Unix milliseconds"}) from None
    url = args.get("workflowUrl")
    where = RunFilter(
        any_of=STATES[state] if state else (),
        workflow=workflow_of(url) if url else None,
        since=at - 0.0005 if at is not None else None,  # runs' times are kept to the millisecond
        until=at + 0.0005 if at is not None else None,
    )
    page = find_runs(client(), RunQuery(where, query.cursor, query.limit))
    return {"cursor": page.cursor or "", "runs": [run_log(r) for r in page.runs]}, 200
