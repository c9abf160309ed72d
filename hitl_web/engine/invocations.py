"""Child runs (``context.invoke``): a run starts another workflow's run and waits for its end.

The parent's step is a wait on the event id ``invoke:<child id>`` that nobody may decide
(``Step.child``; the policy refuses every principal). The child's id comes from the parent's id and
the step's position, so a replay or a retry after a crash finds the child it started (the trigger
refuses a taken id) and never starts a second one. The child names its parent (``Claim.parent``) and
tells it its end (``tell_parent``) as library code's notify, kept for the parent (lookback) if it
has not reached its wait yet: before the child's own last write, so a crash in between repeats the
news (the parent takes the first) rather than losing it.
"""

from __future__ import annotations

import hashlib
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .asks import Ask
from .durations import Duration
from .errors import InvalidPayload, NonRetryableError, UnknownWorkflow
from .registry import get_workflow

if TYPE_CHECKING:
    from .context import WorkflowContext
    from .storage.store import RunStore

EVENT_PREFIX = "invoke:"


class InvokeDepthExceeded(NonRetryableError):
    """A run at the deepest level of child runs (``HITL_MAX_INVOKE_DEPTH``) tried to invoke another."""


@dataclass(frozen=True)
class InvokeResult:
    """How a child run ended, as Upstash's ``context.invoke`` answers: ``{body, isFailed, isCanceled}``.

    ``body``: its result when it completed, its error's text when it failed, None when cancelled
    (or when the parent's wait timed out, which counts as failed).
    """

    body: Any
    is_failed: bool
    is_canceled: bool


def child_id(run_id: str, index: int) -> str:
    """The id of the child run the step at ``index`` of ``run_id`` starts: the same on every replay, unguessable."""
    digest = hashlib.sha256(f"{run_id}\n{index}\ninvoke".encode()).digest()[:16]
    return "wfr_" + urlsafe_b64encode(digest).decode().rstrip("=")


def child_event(child: str) -> str:
    """The event id the parent waits on for ``child``'s end."""
    return EVENT_PREFIX + child


def invoke(context: WorkflowContext, step_name: str, workflow: str, payload: Any, timeout: Duration) -> InvokeResult:
    """``context.invoke``: start the child (once), then wait for its end."""
    ex = context._execution
    index = context._position  # the position the wait below takes
    child = child_id(ex.run_id, index)
    if index >= len(context._steps):  # reached for the first time (or again after a crash before its wait)
        start_child(ex.store, ex.run_id, child, workflow, payload)
    ask = Ask(step_name, child_event(child), timeout, message=f"Waiting for run {child} of {workflow}", child=child)
    waited = context.wait_on(ask)
    if waited.timeout:
        return InvokeResult(None, is_failed=True, is_canceled=False)
    ended = waited.event_data if isinstance(waited.event_data, dict) else {}
    return InvokeResult(ended.get("body"), bool(ended.get("is_failed")), bool(ended.get("is_canceled")))


def start_child(store: RunStore, parent: str, child: str, workflow: str, payload: Any) -> None:
    """Trigger ``child`` as a run of ``workflow`` under ``parent``, unless it exists already."""
    try:
        wf = get_workflow(workflow)
        stored = wf.validate_payload(payload)
    except (UnknownWorkflow, InvalidPayload) as exc:
        raise NonRetryableError(f"cannot invoke {workflow!r}: {exc}") from None
    depth_text, starter = store.redis.hmget(store.keys.of(parent).run, ["depth", "by"])
    depth = int(depth_text or 0) + 1
    limit = store.settings.max_invoke_depth
    if depth > limit:
        deep = f"run {parent} is {depth - 1} child runs deep"
        raise InvokeDepthExceeded(f"{deep}: at most {limit} (HITL_MAX_INVOKE_DEPTH)")
    by = starter.decode() if isinstance(starter, bytes) else starter
    # Its starter is the parent's: separation of duties in the child holds against the same person.
    store.create_run(child, wf.name, stored, by or None, parent=(parent, depth))


def tell_parent(store: RunStore, child: str, parent: str, body: Any, *, failed: bool = False,
                canceled: bool = False) -> None:  # fmt: skip
    """Resolve ``parent``'s wait for ``child`` with how it ended (kept for it if it does not wait yet)."""
    ended = {"body": body, "is_failed": failed, "is_canceled": canceled}
    resolution = {"event_data": ended, "timeout": False, "at": time.time(), "receipt": None}
    store.resolve(child_event(child), resolution, parent, lookback=True)
