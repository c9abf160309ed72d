"""A typed decision: a refund the approver may edit before approving, with a third option."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..engine import WorkflowContext, workflow

REVIEW_STEP = "review-refund"


def refund_event_id(run_id: str) -> str:
    """The event id a run's refund review is decided on."""
    return f"refund-{run_id}"


class RefundRequest(BaseModel):
    """A customer's refund request."""

    customer: str = Field(default="anonymous", min_length=1, max_length=200)
    amount: Decimal = Field(default=Decimal("25.00"), gt=0, le=10_000, decimal_places=2)
    reason: str = Field(default="damaged in transit", min_length=1, max_length=500)


class RefundDecision(BaseModel):
    """What the reviewer decides: the amount refunded (editable), how, and a note for the customer."""

    amount: Decimal = Field(gt=0, le=1_000, decimal_places=2, description="at most 1,000 without a second review")
    method: Literal["original payment", "store credit"] = Field(
        default="original payment", description="where the money goes"
    )
    notify_customer: bool = Field(default=True, title="notify customer")
    note: str | None = Field(default=None, max_length=280, description="shown to the customer")


@workflow("refund-review", payload=RefundRequest)
def refund(context: WorkflowContext) -> dict[str, Any]:
    """Review a refund: the reviewer approves (perhaps a changed amount), rejects, or asks for changes."""
    request: RefundRequest = context.request_payload
    review = context.wait_for_event(
        REVIEW_STEP,
        refund_event_id(context.workflow_run_id),
        timeout=context.settings.approval_timeout,
        message=f"Refund {request.amount} to {request.customer} ({request.reason})?",
        form=RefundDecision,
        initial={"amount": request.amount},
        options=["Approve", "Reject", "Request changes"],
    )
    if review.timeout:
        return {"success": False, "reason": "timeout"}
    decided: RefundDecision = review.values
    if review.option == "approve":
        context.run("issue-refund", lambda: {"refunded": str(decided.amount), "method": decided.method})
    return {
        "success": True,
        "approved": review.option == "approve",
        "option": review.option,
        "amount": str(decided.amount),
        "requested": str(request.amount),
    }
