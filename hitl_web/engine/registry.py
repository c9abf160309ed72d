"""Workflows by name: the ``@workflow`` decorator, retry policies and global middleware."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pydantic

from .durations import Duration, parse_duration
from .errors import InvalidPayload, UnknownWorkflow
from .middleware import WorkflowMiddleware

if TYPE_CHECKING:
    from .context import WorkflowContext

WorkflowFunction = Callable[["WorkflowContext"], Any]
FailureFunction = Callable[..., Any]


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing step is tried again, and how long to wait in between."""

    retries: int = 3
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 300.0

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt + 1``, after ``attempt`` failures."""
        return float(min(self.max_delay, self.delay * self.backoff ** max(0, attempt - 1)))


@dataclass
class Workflow:
    """A registered workflow function and its options."""

    name: str
    fn: WorkflowFunction
    payload_model: type[pydantic.BaseModel] | None = None
    middlewares: list[WorkflowMiddleware] = field(default_factory=list)
    failure_function: FailureFunction | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The person who triggered a run may not decide its approvals.
    separation_of_duties: bool = False
    # Who may start a run (signed-in names, API principals); None: any principal.
    starters: tuple[str, ...] | None = None
    # The notifiers (by name, HITL_NOTIFIERS) told of its asks; None: every configured one.
    notify: tuple[str, ...] | None = None

    def validate_payload(self, payload: Any) -> Any:
        """The payload as stored (JSON data), or ``InvalidPayload`` with pydantic's message."""
        if self.payload_model is None:
            return payload
        try:
            # No payload means "all defaults", as with a JSON body of {}.
            data = {} if payload is None else payload
            return self.payload_model.model_validate(data).model_dump(mode="json")
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}" for err in exc.errors()
            )
            raise InvalidPayload(f"invalid payload for workflow {self.name!r}: {problems}") from None

    def load_payload(self, stored: Any) -> Any:
        """The payload the workflow sees: a model instance when the workflow has a model."""
        if self.payload_model is None:
            return stored
        return self.payload_model.model_validate(stored)


_workflows: dict[str, Workflow] = {}
_global_middlewares: list[WorkflowMiddleware] = []


def workflow(
    name: str,
    *,
    payload: type[pydantic.BaseModel] | None = None,
    middlewares: Iterable[WorkflowMiddleware] = (),
    failure_function: FailureFunction | None = None,
    retries: int = 3,
    retry_delay: Duration = 1.0,
    retry_backoff: float = 2.0,
    separation_of_duties: bool = False,
    starters: Iterable[str] | None = None,
    notify: Iterable[str] | None = None,
) -> Callable[[WorkflowFunction], WorkflowFunction]:
    """Register the decorated function as the workflow ``name``."""
    if retries < 0:
        raise ValueError("retries must be >= 0")
    policy = RetryPolicy(retries=retries, delay=parse_duration(retry_delay), backoff=retry_backoff)

    def register(fn: WorkflowFunction) -> WorkflowFunction:
        _workflows[name] = Workflow(
            name,
            fn,
            payload,
            list(middlewares),
            failure_function,
            policy,
            separation_of_duties,
            tuple(starters) if starters is not None else None,
            tuple(notify) if notify is not None else None,
        )
        return fn

    return register


def use(middleware: WorkflowMiddleware) -> None:
    """Apply ``middleware`` to every workflow (after each workflow's own)."""
    if middleware not in _global_middlewares:
        _global_middlewares.append(middleware)


def middlewares_for(wf: Workflow) -> list[WorkflowMiddleware]:
    """The workflow's own middleware, then the global ones."""
    return [*wf.middlewares, *_global_middlewares]


def get_workflow(name: str) -> Workflow:
    """The workflow registered as ``name``, or ``UnknownWorkflow``."""
    try:
        return _workflows[name]
    except KeyError:
        known = ", ".join(sorted(_workflows)) or "none"
        raise UnknownWorkflow(f"unknown workflow {name!r} (registered: {known})") from None


def workflow_names() -> list[str]:
    """Names of all registered workflows, sorted."""
    return sorted(_workflows)


def load_workflows(modules: Iterable[str]) -> None:
    """Import the modules whose import registers workflows."""
    for module in modules:
        importlib.import_module(module)
