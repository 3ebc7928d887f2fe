"""Failed-login defence, on fail2ban's conventions: score failures per address, ban an
address that fails too often, never ban a safelisted one.

Only failures inside the last `window` seconds count. Bans escalate: the first lasts
`first_ban_seconds`, each next one twice the last, up to `ban_seconds`; an address whose
ban has expired and that stays quiet for `ban_seconds` starts again from the first. A
successful login clears the address's score. Safelisted addresses (loopback by default,
fail2ban's `ignoreip`) are scored for the log but never banned: on a shared address one
mistyping user or one attacker would lock out everyone behind it.

Memory is bounded: at most `max_tracked` addresses are kept, the stalest forgotten first.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_SAFELIST = ("127.0.0.0/8", "::1")


def parse_safelist(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks from CIDR or plain addresses; raises ValueError naming a bad entry."""
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR network: {text!r}") from None
    return tuple(networks)


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    banned_until: float = 0.0
    bans: int = 0  # how many bans in a row, for the escalation


@dataclass(frozen=True)
class Ban:
    address: str
    seconds: float
    count: int  # 1 for a first ban, 2 for the next, ...


class LoginDefender:
    def __init__(
        self,
        max_failures: int = 5,
        window: float = 300.0,
        ban_seconds: float = 900.0,
        first_ban_seconds: float = 60.0,
        safelist: Iterable[str] = DEFAULT_SAFELIST,
        max_tracked: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_tracked = max_tracked
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._safe_cache: dict[str, bool] = {}
        self.configure(max_failures, window, ban_seconds, first_ban_seconds, safelist)

    def configure(
        self,
        max_failures: int,
        window: float,
        ban_seconds: float,
        first_ban_seconds: float,
        safelist: Iterable[str],
    ) -> None:
        """New settings (a reloaded config); scores and bans in force are kept."""
        self.max_failures = max_failures
        self.window = window
        self.ban_seconds = ban_seconds
        self.first_ban_seconds = min(first_ban_seconds, ban_seconds)
        self.safelist = parse_safelist(safelist)
        self._safe_cache.clear()

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    def is_safelisted(self, address: str) -> bool:
        safe = self._safe_cache.get(address)
        if safe is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return False
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            safe = any(ip in network for network in self.safelist)
            if len(self._safe_cache) > self._max_tracked:
                self._safe_cache.clear()
            self._safe_cache[address] = safe
        return safe

    def is_banned(self, address: str) -> bool:
        record = self._records.get(address)
        return record is not None and record.banned_until > self._clock()

    def ban_remaining(self, address: str) -> float:
        record = self._records.get(address)
        return max(0.0, record.banned_until - self._clock()) if record else 0.0

    def record_failure(self, address: str) -> Ban | None:
        """Count a failed login; the ban it starts, if it starts one."""
        if not self.enabled:
            return None
        now = self._clock()
        record = self._records.pop(address, None) or _Record()
        self._records[address] = record  # most recently seen last
        if record.bans and now > record.banned_until + self.ban_seconds:
            record.bans = 0  # quiet long enough since the last ban: start again from the first
        record.failures.append(now)
        while record.failures and record.failures[0] <= now - self.window:
            record.failures.popleft()
        while len(self._records) > self._max_tracked:
            self._records.popitem(last=False)
        if len(record.failures) < self.max_failures or self.is_safelisted(address):
            return None
        record.failures.clear()
        seconds = min(self.ban_seconds, self.first_ban_seconds * 2**record.bans)
        record.bans += 1
        record.banned_until = now + seconds
        return Ban(address, seconds, record.bans)

    def record_success(self, address: str) -> None:
        """A login succeeded: the address's failures are forgiven (not its earlier bans,
        which still set the length of the next one)."""
        record = self._records.get(address)
        if record is not None and record.banned_until <= self._clock():
            record.failures.clear()
            if not record.bans:
                del self._records[address]

    def failures(self, address: str) -> int:
        record = self._records.get(address)
        return len(record.failures) if record else 0
