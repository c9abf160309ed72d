"""Approvers (names with werkzeug password hashes, kept in Redis) and API tokens from the environment."""

from __future__ import annotations

import hmac
import re

import redis
from werkzeug.security import check_password_hash, generate_password_hash

NAME = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")


class Approvers:
    """The people who may sign in and decide approvals."""

    def __init__(self, connection: redis.Redis, prefix: str) -> None:
        self.redis = connection
        self.key = f"{prefix}:approvers"

    def add(self, name: str, password: str) -> None:
        """Create or update an approver; the password is stored only as a hash."""
        if not NAME.fullmatch(name):
            raise ValueError("an approver's name is 1-64 letters, digits, '.', '_', '-' or '@'")
        if len(password) < 8:
            raise ValueError("a password has at least 8 characters")
        self.redis.hset(self.key, name, generate_password_hash(password))

    def remove(self, name: str) -> bool:
        """Remove an approver; False when there was none by that name."""
        return bool(self.redis.hdel(self.key, name))

    def names(self) -> list[str]:
        """Every approver's name, sorted."""
        return sorted(n.decode() for n in self.redis.hkeys(self.key))  # type: ignore[union-attr]

    def check(self, name: str, password: str) -> bool:
        """True when ``password`` is ``name``'s (in constant time whether or not the name exists)."""
        stored = self.redis.hget(self.key, name) if NAME.fullmatch(name or "") else None
        if not stored:
            check_password_hash(_DUMMY, password)  # same cost either way: names cannot be probed
            return False
        return check_password_hash(stored.decode(), password)  # type: ignore[union-attr]


_DUMMY = generate_password_hash("not a password of anyone")


def parse_api_tokens(raw: str) -> dict[str, str]:
    """``"name:token,name2:token2"`` as token -> principal name."""
    tokens: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, token = item.partition(":")
        if not sep or not name or len(token) < 16:
            raise ValueError("HITL_API_TOKENS is 'name:token,...' with tokens of at least 16 characters")
        tokens[token] = name
    return tokens


def principal_for(tokens: dict[str, str], authorization: str | None) -> str | None:
    """The principal a ``Bearer`` header names, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    for known, name in tokens.items():
        if hmac.compare_digest(known.encode(), token.strip().encode()):
            return name
    return None
