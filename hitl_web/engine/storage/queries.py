"""The read model of the run store: the keys it reads, a run, its waiters, and pages of runs."""

from __future__ import annotations

import json
from typing import Any

import redis

from ..errors import RunNotFound
from ..models import Run, RunStatus, Step, StepStatus, Waiter

MANY = "*"  # in the waiters hash: several runs wait on this event id (never a run id)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


class RunQueries:
    """Reads of the ``<prefix>:*`` keys; ``RunStore`` adds the writes and sets the attributes below."""

    redis: redis.Redis
    prefix: str
    _scripts: dict[str, Any]  # name -> registered Lua script (the store registers them)

    # -- keys -------------------------------------------------------------------------------
    def run_key(self, run_id: str) -> str:
        """Hash of one run's fields."""
        return f"{self.prefix}:run:{run_id}"

    def steps_key(self, run_id: str) -> str:
        """List of one run's step records, in execution order."""
        return f"{self.prefix}:steps:{run_id}"

    @property
    def waiters_key(self) -> str:
        """Hash of event id -> the run waiting on it, or ``MANY`` (see ``many_waiters_key``)."""
        return f"{self.prefix}:waiters"

    def many_waiters_key(self, event_id: str) -> str:
        """Hash whose fields are the runs waiting on ``event_id``, when there are several."""
        return f"{self.prefix}:waiters:{event_id}"

    @property
    def index_key(self) -> str:
        """Sorted set of every run id by creation time."""
        return f"{self.prefix}:runs"

    def status_key(self, status: RunStatus) -> str:
        """Sorted set of the runs with ``status``, by when each entered it; waiting runs by deadline."""
        return f"{self.prefix}:runs:{status.value}"

    def _call(self, name: str, *args: Any) -> Any:
        return self._scripts[name](args=[self.prefix, *args])

    # -- reads ------------------------------------------------------------------------------
    def get_waiters(self, event_id: str) -> list[Waiter]:
        """Runs waiting on ``event_id`` now."""
        only = _text(self.redis.hget(self.waiters_key, event_id))
        if not only:
            return []
        ids = [only]
        if only == MANY:
            fields: Any = self.redis.hkeys(self.many_waiters_key(event_id))
            ids = sorted(_text(i) for i in fields)
        with self.redis.pipeline(transaction=False) as pipe:
            for rid in ids:
                pipe.hmget(self.run_key(rid), "status", "wait_index")
            places = pipe.execute()
        waiting = [
            (rid, int(index)) for rid, (status, index) in zip(ids, places, strict=True) if _text(status) == "waiting"
        ]
        with self.redis.pipeline(transaction=False) as pipe:
            for rid, index in waiting:
                pipe.lindex(self.steps_key(rid), index)
            records = pipe.execute()
        out = []
        for (rid, _), raw in zip(waiting, records, strict=True):
            step = Step.from_json(raw) if raw else None
            if step is not None and step.event_id == event_id:  # its waiting step holds the event id
                out.append(Waiter(rid, event_id, step.name, step.deadline or 0.0))
        return out

    def get_run(self, run_id: str) -> Run:
        """The run with its steps and open waits, or ``RunNotFound``."""
        flat, raw_steps = self._call("read", run_id)
        if not flat:
            raise RunNotFound(f"no run {run_id!r}")
        return build_run(run_id, _fields(flat), raw_steps)

    def list_runs(self, status: RunStatus | None = None, limit: int = 50, offset: int = 0) -> list[Run]:
        """Runs newest first; with ``status``, the latest to enter it first (waiting: soonest deadline first).

        One script reads the page from its index (``page.lua``), so it costs the page's size, not
        the number of runs stored.
        """
        if limit <= 0:
            return []
        reply = self._call("page", status.value if status is not None else "", max(offset, 0), limit)
        return [
            build_run(_text(rid), _fields(flat), raw_steps)
            for rid, flat, raw_steps in zip(reply[0::3], reply[1::3], reply[2::3], strict=True)
        ]


def _fields(flat: list[Any]) -> dict[str, str]:
    """A run hash from HGETALL's flat reply inside a script (field, value, ...)."""
    return {_text(k): _text(v) for k, v in zip(flat[0::2], flat[1::2], strict=True)}


def build_run(run_id: str, f: dict[str, str], raw_steps: list[bytes]) -> Run:
    """A ``Run`` from its hash's fields and its step records."""
    steps = [Step.from_json(raw) for raw in raw_steps]
    status = RunStatus(f["status"])
    # A wait resolved by notify or timeout shows as such before its run picks the resolution up.
    if f.get("resolution") and f.get("wait_index"):
        index = int(f["wait_index"])
        if index < len(steps):
            apply_resolution(steps[index], json.loads(f["resolution"]))
    waits = []
    if status is RunStatus.WAITING and f.get("wait_index"):
        step = steps[int(f["wait_index"])]
        waits.append(Waiter(run_id, step.event_id or "", step.name, step.deadline or 0.0))
    return Run(
        run_id=run_id,
        workflow=f["workflow"],
        status=status,
        payload=json.loads(f["payload"]),
        created_at=float(f["created"]),
        updated_at=float(f["updated"]),
        finished_at=float(f["finished"]) if f.get("finished") else None,
        steps=steps,
        waits=waits,
        result=json.loads(f["result"]) if f.get("result") else None,
        error=f.get("error") or None,
        triggered_by=f.get("by") or None,
    )


def apply_resolution(step: Step, resolution: dict[str, Any]) -> None:
    """Turn a waiting step into its resolved form (notified or timed out)."""
    step.status = StepStatus.COMPLETED
    step.finished_at = resolution.get("at")
    step.result = {"event_data": resolution.get("event_data"), "timeout": bool(resolution.get("timeout"))}
    receipt = resolution.get("receipt")
    if isinstance(receipt, dict) and not receipt.get("prompt_sha256"):
        # The prompt a decision answered is the wait it resolved: every entry point's receipt (form,
        # API, CLI, a lookback decision) gets the same fingerprint, with no read before the notify.
        receipt = {**receipt, "prompt_sha256": step.prompt_sha256()}
    step.receipt = receipt
