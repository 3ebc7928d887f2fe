"""The cluster's shared state in Redis (`--state redis://HOST:PORT/DB`), with redis-py's
asyncio client.

Failure scores and bans, per client address (keys with a `{address}` hash tag, so one
script touches one slot):

    aioftp_lite:{203.0.113.7}:failures   sorted set of failure times (Redis's clock), TTL: the window
    aioftp_lite:{203.0.113.7}:banned     exists while the address is banned (TTL: the ban)
    aioftp_lite:{203.0.113.7}:bans       bans in a row, for the escalation (TTL: the ban + ban_seconds,
                                         so a quiet address starts again from the first ban)

Connection counts: each node keeps its own counts in a hash of its own, which expires
unless the node's heartbeat renews it. A node that dies (SIGKILL, power) takes its counts
with it within `node_ttl` seconds; nobody has to clean up after it.

    aioftp_lite:node:<id>    hash: "address:203.0.113.7" -> 2, "user:alice" -> 1; TTL node_ttl
    aioftp_lite:nodes        set of node ids (a node whose hash has expired is dropped from it)

Every change is one Lua script (atomic on the server), every call is bounded by a timeout.
Redis unreachable: the node goes on with its own `LocalState` (which is always kept up to
date), says so once in the log, tries again every `retry_interval` seconds, and when Redis
answers again puts its current counts back before sharing again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..defender import Ban, LoginDefender
from .state import LocalState

log = logging.getLogger("aioftp_lite.cluster")

PREFIX = "aioftp_lite:"
T = TypeVar("T")

# KEYS: failures, banned, bans. ARGV: max failures, window, first ban, longest ban, member.
# Returns 0, or {ban count, ban seconds as text} for a ban this failure started.
_RECORD_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('DEL', KEYS[1])
local bans = tonumber(redis.call('GET', KEYS[3]) or '0')
local longest = tonumber(ARGV[4])
local seconds = math.min(longest, tonumber(ARGV[3]) * 2 ^ bans)
bans = bans + 1
redis.call('SET', KEYS[2], bans, 'PX', math.max(1, math.ceil(seconds * 1000)))
redis.call('SET', KEYS[3], bans, 'PX', math.max(1, math.ceil((seconds + longest) * 1000)))
return {bans, tostring(seconds)}
"""

# KEYS: the node set, our counts. ARGV: field, limit, discount, our id, prefix, ttl (ms).
# Sums the field over the live nodes; counts one more for us unless the limit is reached.
_ADMIT = """
local total = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local counts = ARGV[5] .. 'node:' .. id
  if redis.call('EXISTS', counts) == 1 then
    total = total + tonumber(redis.call('HGET', counts, ARGV[1]) or '0')
  elseif id ~= ARGV[4] then
    redis.call('SREM', KEYS[1], id)
  end
end
local limit = tonumber(ARGV[2])
if limit > 0 and total - tonumber(ARGV[3]) >= limit then
  return 0
end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('SADD', KEYS[1], ARGV[4])
return 1
"""

# KEYS: our counts. ARGV: field.
_RELEASE = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


class _Unreachable(Exception):
    """The shared store did not answer: this node decides alone."""


def shown_url(url: str) -> str:
    """The URL without its password, for the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else "***@"
    return parts._replace(netloc=user + netloc).geturl()


class RedisState:
    def __init__(
        self,
        url: str,
        defender: LoginDefender,
        timeout: float = 1.0,
        node_ttl: float = 15.0,
        retry_interval: float = 1.0,
    ) -> None:
        self.defender = defender
        self.local = LocalState(defender)  # always current: the fallback, and what we publish
        self.url = shown_url(url)
        self.node = secrets.token_hex(8)
        self._timeout = timeout
        self._node_ttl_ms = int(max(node_ttl, 0.5) * 1000)  # the heartbeat beats three times per TTL
        self._retry_interval = retry_interval
        # No retries inside redis-py: a failed call falls back at once, the reconnect loop retries.
        self._redis: Any = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        self._record_failure = self._redis.register_script(_RECORD_FAILURE)
        self._admit = self._redis.register_script(_ADMIT)
        self._release = self._redis.register_script(_RELEASE)
        self._counts_key = f"{PREFIX}node:{self.node}"
        self._up = False
        self._tasks: list[asyncio.Task[None]] = []
        self._reconnecting: asyncio.Task[None] | None = None
        self._failure_serial = 0

    @property
    def shared(self) -> bool:
        """Whether the store answered last time it was asked."""
        return self._up

    # --- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, or start trying to in the background; never fails."""
        try:
            await self._bounded(self._publish_counts)
        except (RedisError, OSError, TimeoutError) as error:
            self._lost(error)
        else:
            self._up = True
            log.info("sharing bans and connection counts through %s (node %s)", self.url, self.node)
        self._tasks.append(asyncio.create_task(self._heartbeat()))

    async def close(self) -> None:
        for task in [*self._tasks, self._reconnecting]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._up:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await self._bounded(lambda: self._redis.delete(self._counts_key))
        await self._redis.aclose()

    # --- bans ---------------------------------------------------------------------------
    async def is_banned(self, address: str) -> bool:
        if self.defender.is_banned(address):
            return True
        try:
            return bool(await self._call(lambda: self._redis.exists(_key(address, "banned"))))
        except _Unreachable:
            return False

    async def record_failure(self, address: str) -> Ban | None:
        local_ban = self.defender.record_failure(address)
        defender = self.defender
        if not defender.enabled or defender.is_safelisted(address):
            return local_ban
        self._failure_serial += 1
        member = f"{self.node}:{self._failure_serial}"
        keys = [_key(address, "failures"), _key(address, "banned"), _key(address, "bans")]
        args: list[str | int | float] = [
            defender.max_failures,
            defender.window,
            defender.first_ban_seconds,
            defender.ban_seconds,
            member,
        ]
        try:
            answer = await self._call(lambda: self._record_failure(keys=keys, args=args))
        except _Unreachable:
            return local_ban
        if not answer:
            return local_ban
        count, seconds = answer
        return Ban(address, float(seconds), int(count))

    async def record_success(self, address: str) -> None:
        self.defender.record_success(address)
        with contextlib.suppress(_Unreachable):
            await self._call(lambda: self._redis.delete(_key(address, "failures")))

    # --- connection counts ----------------------------------------------------------------
    async def admit(self, key: str, limit: int, discount: int = 0) -> bool:
        args: list[str | int | float] = [key, limit, discount, self.node, PREFIX, self._node_ttl_ms]
        try:
            admitted = await self._call(
                lambda: self._admit(keys=[f"{PREFIX}nodes", self._counts_key], args=args)
            )
        except _Unreachable:
            return await self.local.admit(key, limit, discount)  # this node's own count decides
        if admitted:
            self.local.counts[key] += 1
        return bool(admitted)

    async def release(self, key: str) -> None:
        self.local.forget(key)
        with contextlib.suppress(_Unreachable):
            await self._call(lambda: self._release(keys=[self._counts_key], args=[key]))

    def local_count(self, key: str) -> int:
        return self.local.local_count(key)

    # --- talking to Redis -----------------------------------------------------------------
    async def _bounded(self, call: Callable[[], Awaitable[T]]) -> T:
        async with asyncio.timeout(self._timeout):
            return await call()

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        if not self._up:
            raise _Unreachable
        try:
            return await self._bounded(call)
        except (RedisError, OSError, TimeoutError) as error:
            self._lost(error)
            raise _Unreachable from None

    def _lost(self, error: BaseException) -> None:
        """Once per outage: say so, and start trying again in the background."""
        was_up, self._up = self._up, False
        if self._reconnecting is None or self._reconnecting.done():
            reason = str(error) or type(error).__name__
            how = "lost" if was_up else "unreachable"
            log.warning("shared state %s %s (%s): this node goes on with its own bans and counts",
                        self.url, how, reason)  # fmt: skip
            self._reconnecting = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while True:
            await asyncio.sleep(self._retry_interval)
            try:
                await self._bounded(self._publish_counts)
            except (RedisError, OSError, TimeoutError):
                continue
            self._up = True
            log.info("shared state %s reachable again: sharing bans and connection counts", self.url)
            return

    async def _publish_counts(self) -> None:
        """Put this node's counts (the truth: they are its own sessions) in its hash."""
        counts = {key: count for key, count in self.local.counts.items() if count > 0}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._counts_key)
            if counts:
                pipe.hset(self._counts_key, mapping=counts)
                pipe.pexpire(self._counts_key, self._node_ttl_ms)
                pipe.sadd(f"{PREFIX}nodes", self.node)
            await pipe.execute()

    async def _heartbeat(self) -> None:
        """Keep this node's counts alive: they expire node_ttl after its last beat."""
        while True:
            await asyncio.sleep(self._node_ttl_ms / 3000)
            with contextlib.suppress(_Unreachable):
                await self._call(lambda: self._redis.pexpire(self._counts_key, self._node_ttl_ms))


def _key(address: str, what: str) -> str:
    return f"{PREFIX}{{{address}}}:{what}"
