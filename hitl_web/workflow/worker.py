"""Deprecated alias of the worker class, for Procfiles written for 0.1 (see ``hitl_web.workflow``)."""

from __future__ import annotations

from ..engine.worker import Worker as Worker
