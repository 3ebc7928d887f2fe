"""Failed-login defence: score failures per address, ban an address that fails too often.

Scores expire: only failures inside the last `window` seconds count, and a ban
lasts `ban_seconds`. Memory is bounded: at most `max_tracked` addresses are kept,
the stalest forgotten first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    banned_until: float = 0.0


class LoginDefender:
    def __init__(
        self,
        max_failures: int = 5,
        window: float = 300.0,
        ban_seconds: float = 900.0,
        max_tracked: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.ban_seconds = ban_seconds
        self._max_tracked = max_tracked
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    def is_banned(self, address: str) -> bool:
        record = self._records.get(address)
        return record is not None and record.banned_until > self._clock()

    def ban_remaining(self, address: str) -> float:
        record = self._records.get(address)
        return max(0.0, record.banned_until - self._clock()) if record else 0.0

    def record_failure(self, address: str) -> bool:
        """Count a failed login; True if the address is now banned."""
        if not self.enabled:
            return False
        now = self._clock()
        record = self._records.pop(address, None) or _Record()
        self._records[address] = record  # most recently seen last
        record.failures.append(now)
        while record.failures and record.failures[0] <= now - self.window:
            record.failures.popleft()
        if len(record.failures) >= self.max_failures:
            record.banned_until = now + self.ban_seconds
            record.failures.clear()
        while len(self._records) > self._max_tracked:
            self._records.popitem(last=False)
        return record.banned_until > now

    def record_success(self, address: str) -> None:
        record = self._records.get(address)
        if record is not None and record.banned_until <= self._clock():
            del self._records[address]
