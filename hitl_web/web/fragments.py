"""One rendering path for partials: the full page, an htmx response and a WebSocket push."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from markupsafe import Markup

from ..engine import Client, Run, RunStatus
from .inbox import BADGE_CAP, inbox_items
from .viewer import EVERYONE, Viewer
from .views import RunView, run_view


def printable(value: Any) -> Any:
    """A value as a page can send it: lone surrogates (from library code, step results) become U+FFFD.

    Jinja's ``finalize``: every ``{{ }}`` passes through it. Text a form or the API sent is refused
    before it is stored (web/limits.py); this is for text stored by other paths, so a run page can
    always render (a lone surrogate cannot be encoded as UTF-8, and the page would answer 500).
    """
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            cleaned = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


def render_fragment(name: str, *, oob: bool = False, push: bool = False, **context: Any) -> str:
    """Render the partial ``_<name>.html``.

    ``oob`` marks its root for an htmx out-of-band swap; ``push`` renders it for a WebSocket push,
    outside any visitor's request: forms then carry no CSRF field, as the page's htmx sends the
    session's token as a header (pushes only reach pages running htmx).
    """
    return render_template(f"_{name}.html", oob=oob, push=push, **context)


def push_context(app: Flask) -> Any:
    """A request context for rendering pushes on a thread that serves no request (URLs stay relative)."""
    return app.test_request_context("/")


def run_fragments(run: Run | RunView, viewer: Viewer = EVERYONE) -> str:
    """Everything that changes on a run's page for ``viewer``, as out-of-band fragments (safe to apply twice)."""
    view = run if isinstance(run, RunView) else run_view(run, viewer)
    return render_fragment("run_parts", oob=True, push=True, run=view)  # one template: one context


def index_fragments(client: Client) -> str:
    """The live lists of the index page, as out-of-band fragments."""
    recent = client.list_runs(limit=20)
    waiting = client.list_runs(status=RunStatus.WAITING, limit=50)
    return render_fragment("runs_list", oob=True, push=True, runs=recent) + render_fragment(
        "waiting_list", oob=True, push=True, waiting=[run_view(r) for r in waiting]
    )


def inbox_fragments(client: Client, viewer: Viewer, workflow: str = "") -> str:
    """The inbox page's list and the header's count for ``viewer``, as out-of-band fragments."""
    items = inbox_items(client, viewer, workflow)
    count = client.inbox.count(viewer.name, cap=BADGE_CAP)
    return render_fragment("inbox_list", oob=True, push=True, items=items) + render_fragment(
        "inbox_count", oob=True, push=True, inbox_count=count
    )
