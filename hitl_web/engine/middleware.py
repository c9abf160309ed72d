"""Middleware: hooks around runs and steps, in the shape of Upstash's ``WorkflowMiddleware``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import WorkflowContext
    from .models import Step

log = logging.getLogger("hitl_web.engine")

HOOKS = (
    "run_started",
    "before_execution",
    "after_execution",
    "run_completed",
    "run_cancelled",
    "on_error",
    "on_warning",
    "on_info",
)


class WorkflowMiddleware:
    """Hooks that fire once per real execution, never on replay; each does nothing by default.

    Pass plain functions in ``callbacks`` (keyword arguments as below), or subclass and override.
    """

    def __init__(self, name: str = "middleware", callbacks: dict[str, Callable[..., Any]] | None = None):
        unknown = set(callbacks or {}) - set(HOOKS)
        if unknown:
            raise ValueError(f"unknown middleware callbacks {sorted(unknown)}; known: {', '.join(HOOKS)}")
        self.name = name
        for hook, fn in (callbacks or {}).items():
            setattr(self, hook, fn)

    def run_started(self, *, context: WorkflowContext) -> None:
        """The run's first execution begins."""

    def before_execution(self, *, context: WorkflowContext, step_name: str) -> None:
        """A step is about to execute for real (a wait: it has just been reached)."""

    def after_execution(self, *, context: WorkflowContext, step_name: str, result: Any) -> None:
        """A step completed for real (a wait: it was resolved by notify or by its timeout)."""

    def run_completed(self, *, context: WorkflowContext, result: Any) -> None:
        """The workflow function returned."""

    def run_cancelled(self, *, context: WorkflowContext) -> None:
        """The workflow cancelled its own run (``context.cancel()``)."""

    def on_error(self, *, context: WorkflowContext, error: BaseException) -> None:
        """The run failed for good (retries exhausted, or a non-retryable error)."""

    def on_warning(self, *, context: WorkflowContext, warning: str) -> None:
        """Something went wrong that the engine recovers from, such as a step to be retried."""

    def ask_opened(self, *, context: WorkflowContext, index: int, step: Step) -> None:
        """An ask (the wait at step ``index``) is open for its approvers: the notifiers' cue."""

    def ask_rung(self, *, run_id: str, workflow: str, index: int, step: Step, rung: str) -> None:
        """A rung of an open ask's ladder fired (a reminder 'r<n>', or the escalation 'e'; rungs.py).

        Fired by a worker's sweeper, outside any execution: there is no context.
        """

    def on_info(self, *, context: WorkflowContext, info: str) -> None:
        """Something worth logging happened, such as the run suspending."""


def fire(middlewares: Iterable[WorkflowMiddleware], hook: str, **kwargs: Any) -> None:
    """Call ``hook`` on every middleware; a failing callback is logged and never fails the run."""
    for mw in middlewares:
        try:
            getattr(mw, hook)(**kwargs)
        except Exception:
            log.exception("middleware %r: %s callback failed", mw.name, hook)
