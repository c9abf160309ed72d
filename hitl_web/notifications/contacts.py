"""Where an approver is reached: their e-mail address (``<prefix>:contacts``; a name with an @ is its own)."""

from __future__ import annotations

import redis

from ..engine.storage.replies import text


class Contacts:
    """Approvers' e-mail addresses, set by an operator (``hitl-web contact set alice alice@example.com``)."""

    def __init__(self, connection: redis.Redis, prefix: str) -> None:
        self.redis = connection
        self.key = f"{prefix}:contacts"

    def set(self, name: str, address: str) -> None:
        """Reach ``name`` at ``address``."""
        if "@" not in address or any(c.isspace() for c in address):
            raise ValueError(f"{address!r} is not an e-mail address")
        self.redis.hset(self.key, name, address)

    def remove(self, name: str) -> bool:
        """Forget ``name``'s address; False when there was none."""
        return bool(self.redis.hdel(self.key, name))

    def address(self, name: str) -> str | None:
        """``name``'s address, or None."""
        if "@" in name:
            return name
        found = self.redis.hget(self.key, name)
        return text(found) if found else None

    def all(self) -> dict[str, str]:
        """Every address, by name."""
        return {text(k): text(v) for k, v in self.redis.hgetall(self.key).items()}
