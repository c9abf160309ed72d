"""Sign-in throttling: wrong passwords per account and per client address, with backoff, in Redis.

Kept in Redis so that every web process counts the same attempts. A throttled attempt is refused
before its password is hashed, so a burst costs the server (almost) nothing.
"""

from __future__ import annotations

import math

import redis


class SignInLimits:
    """How many wrong passwords an account and an address get before each further try waits longer."""

    def __init__(
        self,
        connection: redis.Redis,
        prefix: str,
        *,
        per_account: int = 5,
        per_address: int = 20,
        window: int = 900,
        longest_wait: int = 900,
    ) -> None:
        self.redis = connection
        self.prefix = prefix
        self.free = {"account": per_account, "address": per_address}
        self.window = window  # failures are forgotten this long after the last one
        self.longest_wait = longest_wait

    def _keys(self, kind: str, who: str) -> tuple[str, str]:
        base = f"{self.prefix}:signin-limit:{kind}:{who}"
        return f"{base}:failures", f"{base}:wait"

    def attempt(self, name: str, address: str) -> int:
        """Count a sign-in attempt before its password is checked; seconds to wait instead, or 0 to go on.

        Counted first, in one round trip each, so parallel attempts cannot all pass a check made
        before any of them failed; a right password then takes its count back (``succeeded``).
        """
        wait = self._waiting(name, address)
        if wait:
            return wait
        for kind, who in (("account", name), ("address", address)):
            failures_key, wait_key = self._keys(kind, who)
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(failures_key)
                pipe.expire(failures_key, self.window)
                failures = int(pipe.execute()[0])
            over = failures - self.free[kind]
            if over > 0:
                # Past the free tries, one attempt per wait, each wait twice as long as the last: the
                # attempt that sets the wait goes on; any other meanwhile (a parallel one) is refused.
                seconds = int(min(self.longest_wait, 2 ** (over - 1)))
                if not self.redis.set(wait_key, 1, ex=seconds, nx=True):
                    return self._waiting(name, address) or 1
        return 0

    def _waiting(self, name: str, address: str) -> int:
        """Seconds until this account and address may try again; 0 when they may now."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.pttl(self._keys("account", name)[1])
            pipe.pttl(self._keys("address", address)[1])
            waits = pipe.execute()
        return max((math.ceil(ms / 1000) for ms in waits if ms > 0), default=0)

    def succeeded(self, name: str, address: str) -> None:
        """A right password: the account starts afresh, and the address's count of this attempt goes back."""
        self.redis.delete(*self._keys("account", name))
        self.redis.decr(self._keys("address", address)[0])
