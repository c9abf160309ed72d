"""``/runs``: every run, a page at a time, filtered by status, workflow, time and a run or event id search.

A route of the pages blueprint (``pages.py`` adds it, so its guard applies: sign-in to view).
"""

from __future__ import annotations

from flask import render_template, request

from ..engine import workflow_names
from ..engine.run_pages import RunPage
from .run_controls import may_control
from .run_filters import STATUSES, BadQuery, find_runs, read_query
from .state import client


def runs_page() -> tuple[str, int]:
    """A page of the runs the query names, newest first (waiting: soonest deadline first), and a link to the next."""
    args = request.args
    try:
        query = read_query(args)
    except BadQuery as exc:
        return render_template("runs.html", page=RunPage([], None), args=args, problem=str(exc),
                               statuses=STATUSES, workflows=workflow_names()), 400  # fmt: skip
    page = find_runs(client(), query)
    following = {**args.to_dict(), "cursor": page.cursor} if page.cursor else None
    return render_template("runs.html", page=page, args=args, problem="", statuses=STATUSES,
                           workflows=workflow_names(), following=following, controls=may_control()), 200  # fmt: skip
