"""The worker's listener that tells each open ask's approvers, through each of the ask's notifiers."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..engine.durations import parse_duration
from ..engine.groups import Groups
from ..engine.middleware import WorkflowMiddleware
from ..engine.models import Step
from ..engine.registry import get_workflow
from ..engine.storage.keys import Keys
from ..engine.storage.replies import text
from ..settings import Settings
from . import messages
from .contacts import Contacts
from .deliveries import Deliveries, delivery_queue, enqueue
from .links import Link, Links
from .messages import Notice
from .notifiers import Notifier, chosen, configured

if TYPE_CHECKING:
    import redis

    from ..engine.context import WorkflowContext

log = logging.getLogger("hitl_web.notifications")
VIA = {"email": "email-link", "slack": "slack-link", "webhook": "webhook-link"}


def actions(step: Step) -> list[tuple[str, str]]:
    """The one-click actions of an ask, as (key, label): its options, or Approve and Reject."""
    return (
        [(key, label) for key, label in step.options]
        if step.options
        else [("approve", "Approve"), ("reject", "Reject")]
    )


class Notifications(WorkflowMiddleware):
    """Hears an ask open (``ask_opened``) and queues a delivery per notifier (per approver, for e-mail)."""

    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        super().__init__(name="notifications")
        self.settings = settings
        self.notifiers = configured(settings)
        self.links = Links(connection, settings.key_prefix)
        self.deliveries = Deliveries(connection, settings.key_prefix)
        self.contacts = Contacts(connection, settings.key_prefix)
        self.redis, self.keys = connection, Keys(settings.key_prefix)
        self.groups = Groups(connection, self.keys)
        self.queue = delivery_queue(settings, connection)

    def ask_opened(self, *, context: WorkflowContext, index: int, step: Step) -> None:
        """An ask opened: tell its approvers."""
        self.announce(context.workflow_name, context.workflow_run_id, index, step, "")

    def ask_rung(self, *, run_id: str, workflow: str, index: int, step: Step, rung: str) -> None:
        """A reminder, the escalation or a reassignment: tell the ask's approvers (the new ones too) again."""
        self.announce(workflow, run_id, index, step, {"e": "Escalated", "a": "Reassigned"}.get(rung, "Reminder"))

    def announce(self, workflow: str, run_id: str, index: int, step: Step, why: str) -> None:
        """Tell the ask's approvers through each of its notifiers; a failure is logged, never the run's."""
        for notifier in chosen(self.notifiers, get_workflow(workflow), step):
            try:
                self._tell(Notice.of(workflow, run_id, index, step, self.settings.public_url, why), step, notifier)
            except Exception:
                log.exception("notifier %s: the ask %s of run %s was not announced", notifier.name, index, run_id)

    def recipients(self, run_id: str, step: Step) -> list[str]:
        """Who may decide the ask now: its users and its groups' members (less the run's starter, if barred)."""
        names: list[str] = []
        for entry in step.approvers or []:
            for name in self.groups.members(entry[6:]) if entry.startswith("group:") else [entry]:
                if name not in names:
                    names.append(name)
        starter = text(self.redis.hget(self.keys.run(run_id), "by")) if step.separation_of_duties else ""
        return [n for n in names if n != starter]

    def _expires(self, step: Step) -> float:
        deadline = step.deadline or time.time() + 7 * 86400
        if self.settings.link_ttl:
            return min(deadline, time.time() + parse_duration(self.settings.link_ttl))
        return deadline

    def _with_links(self, notice: Notice, step: Step, who: list[str], via: str) -> Notice:
        """``notice`` with a link per action for each of ``who``, bound to them and sent ``via``."""
        base, expires, prompt = self.settings.public_url.rstrip("/"), self._expires(step), step.prompt_sha256()
        links = {}
        for name in who:
            bound = [Link(notice.run_id, notice.index, step.event_id or "", name, key, via, prompt, expires)
                     for key, _ in actions(step)]  # fmt: skip
            links[name] = [(label, f"{base}/links/{self.links.mint(link)}") for (_, label), link in
                           zip(actions(step), bound, strict=True)]  # fmt: skip
        return replace(notice, links=links)

    def _tell(self, notice: Notice, step: Step, notifier: Notifier) -> None:
        via = VIA[notifier.kind]
        ttl = int(max(self._expires(step) - time.time(), 0)) + self.settings.finished_run_ttl + 3600
        who = self.recipients(notice.run_id, step)
        if notifier.kind == "email":
            for name in who:
                address = self.contacts.address(name)
                if address is None:
                    log.warning("notifier %s: no e-mail address for %s (hitl-web contact set)", notifier.name, name)
                    continue
                mail = messages.email(
                    self._with_links(notice, step, [name], via), name, address, self.settings.mail_from
                )
                delivery = self.deliveries.record(notice.run_id, notifier, address, mail.as_string(), ttl)
                enqueue(self.queue, delivery, self.settings)
            return
        linked = self._with_links(notice, step, who, via)
        body = messages.slack(linked) if notifier.kind == "slack" else messages.webhook(linked)
        # The endpoint by its host alone: a Slack webhook's URL is itself a secret, and the run page shows this.
        delivery = self.deliveries.record(notice.run_id, notifier, urlsplit(notifier.url).netloc, json.dumps(body), ttl)
        enqueue(self.queue, delivery, self.settings)
