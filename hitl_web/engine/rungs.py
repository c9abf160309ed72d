"""An open ask's ladder: reminders while nobody decides it, then an escalation that adds approvers.

Each rung is a member of one sorted set in Redis (``keys.rungs``), scheduled in the script that
opens the ask and taken, once, by whichever worker's sweep finds it due first (``rungs.lua``), so
a rung fires once however many workers run, and after any restart. The sweeper then announces it
(``workflow.reminded``, or the escalation's ``workflow.reassigned`` by ``system``) and hands it to
the process's listeners (the notifications re-sent).
"""

from __future__ import annotations

import time

from .assignment import reassign
from .durations import spoken
from .journal import Journal
from .models import Step
from .storage import scripts
from .storage.replies import Rung
from .storage.store import RunStore

ESCALATION = "e"
ANNOUNCEMENT = "a"  # a reassignment's: its new approvers are told (reassign.lua schedules it, due at once)


def fire_due(store: RunStore, journal: Journal, limit: int = 100) -> list[Rung]:
    """Take the rungs due now and act on each: an escalation adds its approvers, a reminder is announced.

    Returns the rungs taken (an escalation's step as it is after it), for the listeners to tell.
    """
    args = {"prefix": store.prefix, "now": repr(time.time()), "limit": limit}
    fired = []
    for rung in scripts.RUNGS.call(store.redis, {"rungs": store.keys.rungs}, args):
        step = rung.step
        if rung.rung == ESCALATION:
            if step.approvers:  # an ask anyone may decide has nobody to add: it is only announced again
                to = list(dict.fromkeys([*step.approvers, *(step.escalate_to or [])]))
                reason = f"escalated: undecided after {spoken(step.escalate_after or 0)}"
                if reassign(store, journal, rung.run_id, rung.index, to, reason, "system", True, escalation=True):
                    continue  # decided, or closed, in between
                raw = store.redis.lindex(store.keys.steps(rung.run_id), rung.index)
                if raw is not None:  # the ask as the escalation left it: its new approvers hear of it
                    rung = Rung(rung.run_id, rung.index, rung.rung, Step.from_json(raw), rung.workflow)
        elif rung.rung != ANNOUNCEMENT:  # a reminder (a reassignment announced itself already)
            count = int(rung.rung[1:])
            said = {"stepName": step.name, "index": rung.index, "count": count}
            journal.append(rung.run_id, "workflow.reminded", said)
        fired.append(rung)
    return fired
