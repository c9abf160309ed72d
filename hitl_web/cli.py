"""The ``hitl-web`` command: run the local stack, trigger, notify, list, show and cancel runs, manage approvers."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

import redis

from .cli_common import FAILED, OK, CommandError, operator
from .cli_common import client as _client
from .cli_common import print_json as _print
from .devtools import dev
from .engine import RunStatus, WorkflowError
from .run_commands import add_run_commands
from .settings import Settings


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{what} is not valid JSON: {exc}") from None


def cmd_dev(args: argparse.Namespace) -> int:
    """Run the local stack: Redis (embedded unless REDIS_URL is set), the Procfile's web and worker lines."""
    return dev.run(args)


def cmd_trigger(args: argparse.Namespace) -> int:
    """Start a run as ``--as`` (default ``cli:$USER``) and print its id."""
    starter = args.as_principal or f"cli:{Settings.from_env().user}"
    run_id = _client().trigger(args.workflow, _json_arg(args.payload, "--payload"), args.run_id, triggered_by=starter)
    _print({"workflowRunId": run_id})
    return OK


def cmd_notify(args: argparse.Namespace) -> int:
    """Decide the waits on an event id as ``--as`` (default ``cli:$USER``), through the decision policy."""
    from .approvals import Decider, decide

    decider = Decider(args.as_principal or operator(), True, "cli")
    decisions = decide(_client(), decider, args.event_id, _json_arg(args.data, "--data"), run_id=args.run)
    notified = [d.waiter.to_dict() for d in decisions if d.accepted and d.waiter is not None]
    refused = [{"run_id": d.run_id, "error": d.message} for d in decisions if not d.accepted]
    _print({"notified": notified, **({"refused": refused} if refused else {})})
    for d in decisions:
        if not d.accepted:
            print(f"hitl-web: run {d.run_id}: {d.message}", file=sys.stderr)
    return FAILED if refused and not notified else OK


def cmd_reassign(args: argparse.Namespace) -> int:
    """Give an open ask to other approvers, as an operator (``--as NAME``: as that approver, under the policy)."""
    from .approvals import Decider
    from .approvals.reassignments import reassign_step

    decider = Decider(args.as_principal or operator(), True, "cli")
    as_operator = args.as_principal is None
    c = _client()
    done = reassign_step(c, decider, args.run_id, args.step, args.to, args.reason, open_mode=True, operator=as_operator)
    print(f"hitl-web: run {args.run_id}: {done.message}", file=sys.stdout if done.accepted else sys.stderr)
    return OK if done.accepted else FAILED


def cmd_runs(args: argparse.Namespace) -> int:
    """List runs, newest first."""
    runs = _client().list_runs(args.status, limit=args.limit)
    for run in runs:
        print(f"{run.run_id}  {run.workflow:<16} {run.status.value:<10} steps={len(run.steps)}")
    return OK


def cmd_show(args: argparse.Namespace) -> int:
    """Print one run as JSON."""
    _print(_client().get_run(args.run_id).to_dict())
    return OK


def cmd_approver(args: argparse.Namespace) -> int:
    """Add, remove or list the approvers who may sign in (passwords are stored as hashes)."""
    from .web.auth import Approvers

    client = _client()
    approvers = Approvers(client.store.redis, client.settings.key_prefix)
    if args.action == "list":
        for name in approvers.names():
            print(name)
        return OK
    if not args.name:
        raise CommandError(f"approver {args.action} needs a NAME")
    if args.action == "remove":
        if not approvers.remove(args.name):
            raise CommandError(f"no approver {args.name!r}")
        print(f"removed approver {args.name}")
        return OK
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
    else:
        raise CommandError("give the password on standard input with --password-stdin")
    approvers.add(args.name, password)
    print(f"saved approver {args.name}")
    return OK


def cmd_group(args: argparse.Namespace) -> int:
    """Add or remove members of an approver group, or list the groups; changes apply to open asks at once."""
    groups = _client().groups
    if args.action == "list":
        shown = {args.name: groups.members(args.name)} if args.name else groups.all()
        for name, members in shown.items():
            print(f"{name}: {' '.join(members)}")
        return OK
    if not args.name or not args.members:
        raise CommandError(f"group {args.action} needs a NAME and one or more MEMBERS")
    if args.action == "add":
        print(f"group {args.name}: {groups.add(args.name, *args.members)} added")
        return OK
    removed = groups.remove(args.name, *args.members)
    if not removed:
        raise CommandError(f"none of {' '.join(args.members)} is in group {args.name!r}")
    print(f"group {args.name}: {removed} removed")
    return OK


def cmd_contact(args: argparse.Namespace) -> int:
    """Set, remove or list the e-mail addresses the e-mail notifiers reach approvers at."""
    from .notifications.contacts import Contacts

    client = _client()
    contacts = Contacts(client.store.redis, client.settings.key_prefix)
    if args.action == "list":
        for name, address in sorted(contacts.all().items()):
            print(f"{name}: {address}")
        return OK
    if not args.name or (args.action == "set" and not args.address):
        raise CommandError(f"contact {args.action} needs a NAME" + (" and an ADDRESS" if args.action == "set" else ""))
    if args.action == "set":
        try:
            contacts.set(args.name, args.address)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        print(f"{args.name}: {args.address}")
        return OK
    if not contacts.remove(args.name):
        raise CommandError(f"no address for {args.name!r}")
    print(f"{args.name}: removed")
    return OK


def build_parser() -> argparse.ArgumentParser:
    """The command line's grammar."""
    parser = argparse.ArgumentParser(prog="hitl-web", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev_parser = sub.add_parser("dev", help="run Redis (embedded unless REDIS_URL), web and worker")
    dev.add_arguments(dev_parser)
    dev_parser.set_defaults(func=cmd_dev)
    trigger = sub.add_parser("trigger", help="start a run")
    trigger.add_argument("workflow")
    trigger.add_argument("--payload")
    trigger.add_argument("--run-id")
    trigger.add_argument("--as", dest="as_principal", help="who the run records as its starter (default cli:$USER)")
    trigger.set_defaults(func=cmd_trigger)
    notify = sub.add_parser("notify", help="notify the runs waiting on an event id")
    notify.add_argument("event_id")
    notify.add_argument("--data")
    notify.add_argument("--run")
    notify.add_argument("--as", dest="as_principal", help="the principal the receipt names (default cli:$USER)")
    notify.set_defaults(func=cmd_notify)
    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("--status", choices=[s.value for s in RunStatus])
    runs.add_argument("--limit", type=int, default=50)
    runs.set_defaults(func=cmd_runs)
    show = sub.add_parser("show", help="show a run as JSON")
    show.add_argument("run_id")
    show.set_defaults(func=cmd_show)
    add_run_commands(sub)  # cancel, dlq
    approver = sub.add_parser("approver", help="add, remove or list approvers")
    approver.add_argument("action", choices=["add", "remove", "list"])
    approver.add_argument("name", nargs="?")
    approver.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    approver.set_defaults(func=cmd_approver)
    reassign = sub.add_parser("reassign", help="give an open ask to other approvers (users, group:NAME)")
    reassign.add_argument("run_id")
    reassign.add_argument("--step", type=int, required=True, help="the ask's step index (as on the run page)")
    reassign.add_argument("--to", nargs="+", required=True, help="approvers: names and group:NAME")
    reassign.add_argument("--reason", required=True, help="why (kept with the ask)")
    reassign.add_argument("--as", dest="as_principal", help="reassign as this approver, under the ask's policy")
    reassign.set_defaults(func=cmd_reassign)
    group = sub.add_parser("group", help="add or remove members of an approver group (group:NAME), or list groups")
    group.add_argument("action", choices=["add", "remove", "list"])
    group.add_argument("name", nargs="?")
    group.add_argument("members", nargs="*")
    group.set_defaults(func=cmd_group)
    contact = sub.add_parser("contact", help="set, remove or list approvers' e-mail addresses (e-mail notifiers)")
    contact.add_argument("action", choices=["set", "remove", "list"])
    contact.add_argument("name", nargs="?")
    contact.add_argument("address", nargs="?")
    contact.set_defaults(func=cmd_contact)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    except (WorkflowError, ValueError, CommandError) as exc:
        print(f"hitl-web: {exc}", file=sys.stderr)
        return FAILED
    except redis.RedisError as exc:
        print(f"hitl-web: Redis is unreachable: {exc}", file=sys.stderr)
        return FAILED
    return OK


if __name__ == "__main__":
    sys.exit(main())
