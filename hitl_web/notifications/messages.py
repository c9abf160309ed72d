"""What a notifier says about an open ask: e-mail (text and HTML), a signed webhook's JSON, a Slack message."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ..engine.models import Step

# Autoescaped like every page: an ask's message and step results are untrusted.
_TEMPLATES = Environment(loader=PackageLoader("hitl_web", "templates/notifications"), autoescape=select_autoescape())


@dataclass(frozen=True)
class Notice:
    """An open ask as its messages show it: where it is, what it asks, by when, and each approver's links."""

    workflow: str
    run_id: str
    index: int
    step_name: str
    message: str
    deadline: float | None
    page_url: str
    # Why it is sent again ("Reminder", "Escalated"); '' when the ask opened.
    why: str = ""
    # Each approver's one-click links: approver -> [(label, url)], in the ask's option order.
    links: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, workflow: str, run_id: str, index: int, step: Step, public_url: str, why: str = "") -> Notice:
        """The notice of the ask ``step`` (its links added by the caller)."""
        page = f"{public_url.rstrip('/')}/runs/{run_id}"
        message = step.message or f"Waiting for {step.name}"
        return cls(workflow, run_id, index, step.name, message, step.deadline, page, why)

    @property
    def deadline_text(self) -> str:
        """The deadline in UTC, as a person reads it."""
        if not self.deadline:
            return "none"
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.deadline))

    def subject(self) -> str:
        """An e-mail's subject line."""
        return f"{self.why + ': ' if self.why else ''}Approval needed: {self.message}"[:200]


def email(notice: Notice, approver: str, address: str, sender: str) -> EmailMessage:
    """The e-mail to one approver: plain text and HTML, with their own links."""
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = notice.subject(), sender, address
    context = {"notice": notice, "approver": approver, "links": notice.links.get(approver, [])}
    mail.set_content(_TEMPLATES.get_template("ask.txt").render(context))
    mail.add_alternative(_TEMPLATES.get_template("ask.html").render(context), subtype="html")
    return mail


def webhook(notice: Notice) -> dict[str, Any]:
    """A webhook's JSON body: the ask, and each approver's links."""
    return {
        "type": {"Reminder": "ask.reminder", "Escalated": "ask.escalated", "Reassigned": "ask.reassigned"}.get(
            notice.why, "ask.opened"
        ),
        "workflow": notice.workflow,
        "runId": notice.run_id,
        "index": notice.index,
        "stepName": notice.step_name,
        "message": notice.message,
        "deadline": notice.deadline,
        "url": notice.page_url,
        "links": {who: [{"label": label, "url": url} for label, url in links] for who, links in notice.links.items()},
    }


def slack(notice: Notice) -> dict[str, Any]:
    """A Slack-compatible incoming webhook's message: the ask in a section, a button per approver and action."""
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": f"{label} as {who}"[:75]}, "url": url}
        for who, links in notice.links.items()
        for label, url in links
    ]
    where = f"{notice.workflow} · run <{notice.page_url}|{notice.run_id}> · due {notice.deadline_text}"
    text = f"*{_mrkdwn(notice.message)}*\n{where}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:25]})  # Slack's limit per actions block
    return {"text": notice.subject(), "blocks": blocks}


def _mrkdwn(value: str) -> str:
    """``value`` with Slack's control characters escaped (its mrkdwn is not HTML, but <, > and & are links)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
