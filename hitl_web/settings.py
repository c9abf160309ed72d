"""Settings read from the environment (prefix ``HITL_``), shared by web and worker processes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class Settings:
    """Engine settings; every field can be set as ``HITL_<FIELD NAME UPPERCASED>``."""

    redis_url: str = ""
    # Key prefix, so several deployments (or test sessions) can share one Redis.
    key_prefix: str = "hitl"
    queue_name: str = "hitl"
    # How long a run may go without its worker renewing the lease before another worker takes it.
    lease_seconds: float = 30.0
    # How often each worker looks for due deadlines, wake-ups and expired leases.
    sweep_interval: float = 0.1
    # Finished runs (and their steps) expire after this many seconds; 0 keeps them forever.
    finished_run_ttl: int = 7 * 24 * 3600
    # Each run's event list keeps this many events, and expires this long after the run finishes.
    stream_max_len: int = 1000
    stream_ttl: int = 7 * 24 * 3600
    # Decisions kept for a run that has not reached their wait yet (lookback), by event id: the
    # oldest is dropped beyond this many (at least 1): notifies with ever new event ids cannot grow a run.
    lookback_max: int = 16
    # Modules whose import registers workflows, comma-separated.
    workflow_modules: tuple[str, ...] = field(default=("hitl_web.examples",))

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Build settings from ``HITL_*`` variables (and ``REDIS_URL``), then apply overrides."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"HITL_{f.name.upper()}")
            if raw is None:
                continue
            if f.name == "workflow_modules":
                values[f.name] = tuple(m.strip() for m in raw.split(",") if m.strip())
            elif isinstance(f.default, bool):
                values[f.name] = raw.lower() in {"1", "true", "yes", "on"}
            elif isinstance(f.default, int):
                values[f.name] = int(raw)
            elif isinstance(f.default, float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        if "redis_url" not in values and os.environ.get("REDIS_URL"):
            values["redis_url"] = os.environ["REDIS_URL"]
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
