"""The guide's basic workflow: three steps, one after another."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from ..engine import WorkflowContext, workflow


class BasicPayload(BaseModel):
    """Optional input of the basic workflow."""

    message: str = "hello"


@workflow("basic", payload=BasicPayload)
def basic(context: WorkflowContext) -> dict[str, Any]:
    """Fetch, process and store a value, each a durable step."""
    payload: BasicPayload = context.request_payload
    data = context.run("fetch-data", lambda: {"message": payload.message, "fetchedAt": time.time()})
    processed = context.run("process-data", lambda: {"upper": data["message"].upper()})
    context.run("save-result", lambda: {"saved": True, "value": processed["upper"]})
    return {"success": True, "workflowRunId": context.workflow_run_id}
