"""Bandwidth limits: a token bucket per session and one shared by all sessions."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """At most `rate` bytes per second on average, with bursts of up to a tenth of a second's worth.

    The bucket starts empty and holds little: with a full second's worth, a file of
    twice the rate would go through at twice the rate. Shared by several transfers,
    each one sleeps for its own share of the debt, so together they stay near the rate.
    """

    BURST_SECONDS = 0.1

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._tokens = 0.0
        self._last = time.monotonic()

    async def consume(self, amount: int) -> None:
        now = time.monotonic()
        burst = self.rate * self.BURST_SECONDS
        self._tokens = min(burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= amount
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


async def throttle(limiters: list[RateLimiter], amount: int) -> None:
    for limiter in limiters:
        await limiter.consume(amount)
