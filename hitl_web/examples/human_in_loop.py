"""The guide's human-in-the-loop workflow: process, wait for an approval, then act on it."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from ..engine import WorkflowContext, workflow

WAIT_STEP = "wait-for-approval"


def approval_event_id(run_id: str) -> str:
    """The event id a run's approval is notified on."""
    return f"approval-{run_id}"


class ApprovalRequest(BaseModel):
    """What a person is asked to approve: who asks, and for what."""

    userId: str = Field(default="anonymous", min_length=1, max_length=200)
    action: str = Field(default="publish", min_length=1, max_length=2000)


@workflow("human-in-loop", payload=ApprovalRequest)
def human_in_loop(context: WorkflowContext) -> dict[str, Any]:
    """Initial processing, a wait for approval (5 minutes by default), then approved or rejected steps."""
    request: ApprovalRequest = context.request_payload
    context.run(
        "initial-processing",
        lambda: {"preprocessed": True, "userId": request.userId, "action": request.action, "requiresApproval": True},
    )
    decision = context.wait_for_event(
        WAIT_STEP,
        approval_event_id(context.workflow_run_id),
        timeout=context.settings.approval_timeout,  # HITL_APPROVAL_TIMEOUT: short deadlines for tests and demos
        message=f'Approve "{request.action}" for {request.userId}?',
    )
    if decision.timeout:
        return {"success": False, "reason": "timeout"}
    approved = bool(isinstance(decision.event_data, dict) and decision.event_data.get("approved") is True)
    status = "approved" if approved else "rejected"
    context.run(
        f"process-{status}",
        lambda: {
            "status": status,
            "processedAt": int(time.time() * 1000),
            "action": request.action,
            "userId": request.userId,
        },
    )
    if approved:
        context.run("finalize", lambda: {"finalized": True})
    return {"success": True, "approved": approved, "workflowRunId": context.workflow_run_id}
