"""Durable workflows on RQ and Redis: steps, waits for events, notify, timeouts and middleware."""

from __future__ import annotations

from .asks import Ask
from .assignment import InvalidReassignment
from .client import Client, new_run_id
from .context import WorkflowContext
from .durations import parse_duration
from .errors import (
    InvalidDuration,
    InvalidEventData,
    InvalidPayload,
    InvalidRunId,
    NonDeterminism,
    NonRetryableError,
    NotAllowed,
    ResultNotSerializable,
    RunExists,
    RunNotFound,
    StepError,
    UnknownWorkflow,
    WorkflowError,
)
from .forms import InvalidDecision
from .invocations import InvokeDepthExceeded, InvokeResult
from .middleware import WorkflowMiddleware
from .models import Run, RunStatus, Step, StepStatus, StepType, Waiter
from .outcomes import WaitResult
from .parallel import Resume, Task
from .quorum import QuorumOutcome, Tally
from .receipts import Receipt
from .registry import RetryPolicy, get_workflow, use, workflow, workflow_names

__all__ = [
    "Ask",
    "Client",
    "InvalidDecision",
    "InvalidDuration",
    "InvalidEventData",
    "InvalidPayload",
    "InvalidReassignment",
    "InvalidRunId",
    "InvokeDepthExceeded",
    "InvokeResult",
    "NonDeterminism",
    "NonRetryableError",
    "NotAllowed",
    "QuorumOutcome",
    "Receipt",
    "ResultNotSerializable",
    "Resume",
    "RetryPolicy",
    "Run",
    "RunExists",
    "RunNotFound",
    "RunStatus",
    "Step",
    "StepError",
    "StepStatus",
    "StepType",
    "Tally",
    "Task",
    "UnknownWorkflow",
    "WaitResult",
    "Waiter",
    "WorkflowContext",
    "WorkflowError",
    "WorkflowMiddleware",
    "get_workflow",
    "new_run_id",
    "parse_duration",
    "use",
    "workflow",
    "workflow_names",
]
