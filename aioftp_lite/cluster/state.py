"""What the nodes of a cluster share: failed-login scores, bans and connection counts.

The server asks a `SharedState`; it never knows where the answer lives. `LocalState` is a
single process on its own (the default, and the fallback of a node whose shared store is
unreachable); `RedisState` (redis_state.py) shares with every node on the same Redis.

Connection counts are kept under keys such as `address:203.0.113.7` or `user:alice`;
`admit` checks a limit and counts the connection in one step, so two nodes cannot both
let in the connection that was one too many.
"""

from __future__ import annotations

import collections
from typing import Protocol

from ..defender import Ban, LoginDefender


def address_key(address: str) -> str:
    return f"address:{address}"


def user_key(name: str) -> str:
    return f"user:{name}"


class SharedState(Protocol):
    """Scores, bans and counts, as the server sees them. The safelist and the ban settings
    are always this node's own (its `defender`'s configuration)."""

    defender: LoginDefender

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def is_banned(self, address: str) -> bool: ...

    async def record_failure(self, address: str) -> Ban | None:
        """Count a failed login; the ban it starts, if it starts one."""

    async def record_success(self, address: str) -> None: ...

    async def admit(self, key: str, limit: int, discount: int = 0) -> bool:
        """Count one more connection under `key` unless `limit` (0: none) is reached.
        `discount`: this node's connections under `key` that are about to end (their
        client has hung up), which do not count against the limit."""

    async def release(self, key: str) -> None:
        """A connection counted by `admit` ended."""

    def local_count(self, key: str) -> int:
        """This node's own connections under `key`."""


class LocalState:
    """This process's own scores, bans and counts."""

    def __init__(self, defender: LoginDefender) -> None:
        self.defender = defender
        self.counts: collections.Counter[str] = collections.Counter()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def is_banned(self, address: str) -> bool:
        return self.defender.is_banned(address)

    async def record_failure(self, address: str) -> Ban | None:
        return self.defender.record_failure(address)

    async def record_success(self, address: str) -> None:
        self.defender.record_success(address)

    async def admit(self, key: str, limit: int, discount: int = 0) -> bool:
        if not self.admits(key, limit, discount):
            return False
        self.counts[key] += 1
        return True

    def admits(self, key: str, limit: int, discount: int = 0) -> bool:
        return not limit or self.counts[key] - discount < limit

    async def release(self, key: str) -> None:
        self.forget(key)

    def forget(self, key: str) -> None:
        self.counts[key] -= 1
        if self.counts[key] <= 0:
            del self.counts[key]

    def local_count(self, key: str) -> int:
        return self.counts[key]
