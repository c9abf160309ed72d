"""An operator's writes on runs: cancel a running or waiting run, resume a failed one (the dead-letter list)."""

from __future__ import annotations

import time

import redis

from ...settings import Settings
from ..journal import Journal, entry
from ..models import Step
from . import scripts
from .keys import Keys, new_nonce


class RunControls:
    """Cancel and resume, mixed into ``RunStore``: each one script, with its journal entry and its audit entry."""

    redis: redis.Redis
    settings: Settings
    prefix: str
    keys: Keys
    journal: Journal
    queue_keys: tuple[str, str]

    def cancel(self, run_id: str, principal: str = "") -> tuple[str, str, str]:
        """Cancel a running or waiting run: the status it had (``missing`` when unknown), its parent, its workflow.

        The cancel writes the run's last journal entry (runFinish, cancelled) in the same script: no
        execution will announce it. ``principal`` (who cancels; '' for library code) goes in the audit trail.
        """
        args = dict(prefix=self.prefix, run_id=run_id, now=f"{time.time():.3f}", ttl=self.settings.finished_run_ttl,
                    principal=principal, audit_max=self.settings.audit_max_len)  # fmt: skip
        announce = self.journal.riders_of([entry(run_id, "workflow.runFinish", {"status": "cancelled"})])
        return scripts.CANCEL.call(self.redis, self.keys.for_cancel(run_id), args, announce)

    def resume(self, run_id: str, index: int, step: Step | None, principal: str = "") -> str:
        """Resume a failed run, its step at ``index`` reset to ``step`` (-1, None: it failed outside a step).

        Returns the status the run had (``missing`` when unknown); only a failed run resumes.
        """
        now = time.time()
        args = dict(prefix=self.prefix, run_id=run_id, index=index, record=step.to_json() if step else "",
                    now=repr(now), lease=repr(now + self.settings.lease_seconds), nonce=new_nonce(),
                    principal=principal, audit_max=self.settings.audit_max_len)  # fmt: skip
        said = {"by": principal or None, "stepName": step.name if step else "", "index": index}
        announce = self.journal.riders_of([entry(run_id, "workflow.runResumed", said)])
        return scripts.RESUME.call(self.redis, self.keys.for_resume(run_id, *self.queue_keys), args, announce)
