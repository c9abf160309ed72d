"""Refund approvals built on hitl-web; ``refund_approvals.workflows`` registers the ``refund`` workflow."""
