"""The ``refund`` workflow: check the order, ask a person to approve the refund, then refund or decline.

Register it with ``HITL_WORKFLOW_MODULES=refund_approvals.workflows`` (web and worker processes).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Literal

from pydantic import BaseModel, Field

from hitl_web.engine import WorkflowContext, workflow

WAIT_STEP = "approve-refund"
Reason = Literal["damaged", "not-delivered", "wrong-item", "changed-mind"]


def refund_event_id(run_id: str) -> str:
    """The event id a refund's decision is notified on (``hitl-web notify refund-<run id>``)."""
    return f"refund-{run_id}"


class RefundRequest(BaseModel):
    """A customer's refund request, as support enters it on the start form."""

    order: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$", description="Order number")
    amount: float = Field(gt=0, le=10_000, description="Amount to refund")
    reason: Reason = Field(description="Why the customer wants the money back")
    express: bool = Field(default=False, description="Pay out today instead of with the next payout batch")


def check_order(request: RefundRequest) -> dict[str, Any]:
    """What the order system says about the order; replace the body with a call to your shop's API.

    As a step it runs once per run: on replay (after the approval) its stored answer is used.
    """
    return {"order": request.order.upper(), "refundable": request.amount, "reason": request.reason}


def issue_refund(idempotency_key: str, order: str, amount: float, express: bool) -> dict[str, Any]:
    """Pay the money back; replace the body with your payment provider's refund call.

    Pass the key on as the provider's idempotency key: a step retried after a crash then cannot pay twice.
    """
    reference = "re_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return {"reference": reference, "order": order, "amount": amount, "payout": "today" if express else "next batch"}


@workflow("refund", payload=RefundRequest)
def refund(context: WorkflowContext) -> dict[str, Any]:
    """Check the order, wait for a person's decision (2 days by default), then refund or decline."""
    request: RefundRequest = context.request_payload
    order = context.run("check-order", lambda: check_order(request))
    decision = context.wait_for_event(
        WAIT_STEP,
        refund_event_id(context.workflow_run_id),
        timeout=os.environ.get("REFUND_APPROVAL_TIMEOUT", "2d"),
        message=f"Refund {request.amount:.2f} for order {order['order']} ({request.reason})?",
    )
    if decision.timeout:
        context.run("decline-refund", lambda: {"declined": True, "why": "nobody decided in time"})
        return {"refunded": False, "reason": "timeout"}
    approved = isinstance(decision.event_data, dict) and decision.event_data.get("approved") is True
    if not approved:
        context.run("decline-refund", lambda: {"declined": True, "why": "rejected"})
        return {"refunded": False, "reason": "rejected"}
    key = f"{context.workflow_run_id}:issue-refund"
    paid = context.run("issue-refund", lambda: issue_refund(key, order["order"], request.amount, request.express))
    return {"refunded": True, **paid}
