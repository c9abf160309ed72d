"""The command line's run controls: cancel runs (one, or in bulk), and the dead-letter list of failed runs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli_common import FAILED, OK, USAGE, client, operator, print_json
from .engine import RunStatus


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel one run (a finished one is left as it is: exit 1), or in bulk by ids, workflow and status."""
    if len(args.run_ids) == 1 and not (args.workflow or args.status):
        status = client().cancel_run(args.run_ids[0], by=operator())
        if status is not RunStatus.CANCELLED:
            print(f"hitl-web: run {args.run_ids[0]} is already {status.value}; not cancelled", file=sys.stderr)
            return FAILED
        print_json({"workflowRunId": args.run_ids[0], "status": status.value})
        return OK
    if args.run_ids and (args.workflow or args.status):
        print("hitl-web: name runs, or filter them by --workflow/--status, not both", file=sys.stderr)
        return USAGE
    if not (args.run_ids or args.workflow or args.status):
        print("hitl-web: say which runs to cancel: RUN_ID..., --workflow, --status", file=sys.stderr)
        return USAGE
    ids = args.run_ids or None
    print_json({"cancelled": client().cancel(ids=ids, workflow=args.workflow, status=args.status, by=operator())})
    return OK


def cmd_dlq(args: argparse.Namespace) -> int:
    """The dead-letter list: list failed runs, resume them from their failed step, or restart them."""
    letters = client().dead_letters
    if args.action == "list":
        print_json([{"workflowRunId": r.run_id, "workflow": r.workflow, "error": r.error, "failedAt": r.finished_at}
                    for r in letters.runs(args.workflow)])  # fmt: skip
        return OK
    if bool(args.run_ids) == bool(args.all):
        print(f"hitl-web: dlq {args.action} takes RUN_ID... or --all (with --workflow, optionally)", file=sys.stderr)
        return USAGE
    ids = args.run_ids or None
    done: dict[str, Any]
    if args.action == "resume":
        done = {"resumed": letters.resume_all(ids, args.workflow, by=operator())}
    else:
        done = {"restarted": letters.restart_all(ids, args.workflow, by=operator())}
    print_json(done)
    return OK if done.get("resumed", done.get("restarted")) else FAILED


def add_run_commands(sub: Any) -> None:
    """``cancel`` and ``dlq`` on the command line's subparsers."""
    cancel = sub.add_parser("cancel", help="cancel a run, or runs in bulk")
    cancel.add_argument("run_ids", nargs="*", metavar="RUN_ID")
    cancel.add_argument("--workflow", help="cancel every running or waiting run of this workflow")
    cancel.add_argument("--status", choices=["running", "waiting"], help="only runs with this status")
    cancel.set_defaults(func=cmd_cancel)
    dlq = sub.add_parser("dlq", help="failed runs: list them, resume them from the failed step, or restart them")
    dlq.add_argument("action", choices=["list", "resume", "restart"])
    dlq.add_argument("run_ids", nargs="*", metavar="RUN_ID")
    dlq.add_argument("--all", action="store_true", help="every failed run (of --workflow, if given)")
    dlq.add_argument("--workflow", help="only failed runs of this workflow")
    dlq.set_defaults(func=cmd_dlq)
