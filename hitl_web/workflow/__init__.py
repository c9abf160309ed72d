"""Deprecated alias of ``hitl_web.engine``, kept so that code and Procfiles written for 0.1 still run.

``from hitl_web.workflow import ...`` and the worker class ``hitl_web.workflow.worker.Worker`` warn
once and go to their new homes; the alias goes in 0.3.
"""

from __future__ import annotations

import warnings

from ..engine import *  # noqa: F403
from ..engine import __all__ as __all__

warnings.warn(
    "hitl_web.workflow is now hitl_web.engine (and the worker class hitl_web.engine.worker.Worker)",
    DeprecationWarning,
    stacklevel=2,
)
