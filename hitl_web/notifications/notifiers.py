"""The notifiers an operator configures (``HITL_NOTIFIERS``), and which of them an ask tells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..engine.models import Step
from ..engine.registry import Workflow
from ..settings import Settings

Kind = Literal["webhook", "slack", "email"]
KINDS: tuple[Kind, ...] = ("webhook", "slack", "email")


class InvalidNotifier(ValueError):
    """An entry of HITL_NOTIFIERS (or a wait's ``notify``) that names no usable notifier."""


@dataclass(frozen=True)
class Notifier:
    """One configured notifier: its name, kind, endpoint (webhook and Slack) and signing secret (webhook)."""

    name: str
    kind: Kind
    url: str = ""
    secret: str = ""


def configured(settings: Settings) -> dict[str, Notifier]:
    """Every notifier of ``settings`` by name: ``name=webhook:URL``, ``name=slack:URL``, ``name=email``."""
    secrets = dict(_pairs(settings.notifier_secrets))
    out: dict[str, Notifier] = {}
    for entry in settings.notifiers:
        name, _, spec = entry.partition("=")
        kind, _, url = spec.partition(":")
        name, kind = name.strip(), kind.strip()
        if not name or kind not in KINDS:
            raise InvalidNotifier(f"HITL_NOTIFIERS: {entry!r} is not name=webhook:URL, name=slack:URL or name=email")
        if kind != "email" and not url.startswith(("http://", "https://")):
            raise InvalidNotifier(f"HITL_NOTIFIERS: {name}'s {kind} needs an http(s) URL")
        if kind == "email" and not settings.smtp_url:
            raise InvalidNotifier(f"HITL_NOTIFIERS: {name} sends e-mail, and HITL_SMTP_URL is not set")
        out[name] = Notifier(name, kind, url.strip(), secrets.get(name, ""))
    return out


def chosen(notifiers: dict[str, Notifier], workflow: Workflow, step: Step) -> list[Notifier]:
    """The notifiers an ask tells: its wait's ``notify``, else its workflow's, else every configured one."""
    names = step.notify if step.notify is not None else workflow.notify
    if names is None:
        return list(notifiers.values())
    unknown = [n for n in names if n not in notifiers]
    if unknown:
        raise InvalidNotifier(f"no notifier {', '.join(unknown)} (HITL_NOTIFIERS names {', '.join(notifiers)})")
    return [notifiers[n] for n in names]


def _pairs(text: str) -> list[tuple[str, str]]:
    """``name:value,...`` as pairs."""
    pairs = []
    for item in text.split(","):
        name, sep, value = item.strip().partition(":")
        if sep and name:
            pairs.append((name.strip(), value.strip()))
    return pairs
