"""What every ``hitl-web`` command shares: exit codes, the one-line error, the client, JSON output."""

from __future__ import annotations

import json
from typing import Any

from .connections import connect
from .engine import Client
from .settings import Settings

# Exit codes: 0 done, 1 the operation failed (unknown run, invalid payload...), 2 bad usage.
OK, FAILED, USAGE = 0, 1, 2


class CommandError(Exception):
    """A failure to report in one line, exit code 1."""


def client() -> Client:
    """The engine's client on the environment's Redis, or ``CommandError`` naming what is missing."""
    settings = Settings.from_env()
    if not settings.redis_url and not settings.redis_sentinels:
        raise CommandError(
            "REDIS_URL is not set (`hitl-web dev` prints it when it starts, its password masked: "
            "the password is in var/redis/password)"
        )
    return Client(connect(settings), settings)


def print_json(data: Any) -> None:
    """A command's result on standard output."""
    print(json.dumps(data, indent=2, sort_keys=True))


def operator() -> str:
    """The name an operator at the command line acts under (audit trail, receipts): ``cli:$USER``."""
    return f"cli:{Settings.from_env().user}"
