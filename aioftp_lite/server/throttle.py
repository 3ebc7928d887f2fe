"""Bandwidth limits: a token bucket per session and one shared by all sessions."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """At most `rate` bytes per second on average, with bursts of up to one second's worth.

    Shared by several transfers, each one sleeps for its own share of the debt, so
    together they stay near the rate.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._tokens = float(rate)
        self._last = time.monotonic()

    async def consume(self, amount: int) -> None:
        now = time.monotonic()
        self._tokens = min(float(self.rate), self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= amount
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


async def throttle(limiters: list[RateLimiter], amount: int) -> None:
    for limiter in limiters:
        await limiter.consume(amount)
