"""Password hashes, a cache of verified credentials, and a CPU budget for the slow hash.

Stored passwords are scrypt hashes: slow on purpose, so a stolen config file is costly to
crack. That slowness must not become the server's: a repeat login with a password that
verified before is answered from `VerifiedCredentials` (a keyed digest, microseconds), and
the slow checks that remain go through `SlowHashBudget`, which never lets them take more
than a share of one core, so a flood of wrong passwords cannot starve the sessions that
are already logged in.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# A user name that does not exist is checked against this, so that both cases cost the same
# scrypt run (no password matches it: its digest is not the hash of anything).
DECOY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'00' * 16}${'00' * 64}"


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash`, hex encoded."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=2**30
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


class VerifiedCredentials:
    """Which password last verified for each account, as a keyed digest.

    The digest is HMAC-SHA-256 under a key made fresh for each process, over the account
    name, its stored hash and the password: never the password itself, and useless outside
    this process. The stored hash being part of it means a changed password no longer
    matches, even before `clear()`. Only a success is remembered; a wrong password always
    costs the slow hash. At most `capacity` accounts are kept, the least recently used
    forgotten first.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._key = secrets.token_bytes(32)
        self._capacity = capacity
        self._digests: OrderedDict[str, bytes] = OrderedDict()

    def digest(self, name: str, stored_hash: str, password: str) -> bytes:
        message = b"\0".join((name.encode(), stored_hash.encode(), password.encode()))
        return hmac.digest(self._key, message, "sha256")

    def knows(self, name: str, stored_hash: str, password: str) -> bool:
        remembered = self._digests.get(name)
        if remembered is None:
            return False
        if not hmac.compare_digest(remembered, self.digest(name, stored_hash, password)):
            return False
        self._digests.move_to_end(name)
        return True

    def remember(self, name: str, stored_hash: str, password: str) -> None:
        self._digests[name] = self.digest(name, stored_hash, password)
        self._digests.move_to_end(name)
        while len(self._digests) > self._capacity:
            self._digests.popitem(last=False)

    def clear(self) -> None:
        self._digests.clear()

    def __len__(self) -> int:
        return len(self._digests)


class ServerBusy(Exception):
    """The slow-hash queue is full, or a login waited in it too long."""


Result = TypeVar("Result")


def _timed(function: Callable[..., Result], *arguments: object) -> tuple[Result, float]:
    """In a worker thread: the result and the CPU time this thread spent on it."""
    started = time.thread_time()
    result = function(*arguments)
    return result, time.thread_time() - started


# A niceness for the hashing threads: when the server's core is contended, the kernel gives
# them about a tenth of it (CFS weights 110 against 1024), so sessions are served first.
HASH_THREAD_NICENESS = 10


def _yield_to_serving() -> None:
    """In each hashing thread: a lower priority than the event loop's thread (Linux
    schedules threads one by one; elsewhere this is skipped)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICENESS)
    except (AttributeError, OSError):
        pass


class SlowHashBudget:
    """Runs slow password checks off the event loop within a share of CPU time.

    A token bucket of CPU seconds: it refills at `cpu_share` seconds per second (0.25: a
    quarter of one core) up to `burst` seconds, and every check is charged the CPU time
    it really took, so the share holds whatever the hash parameters are. A check waits
    for the bucket in a bounded queue: at most `max_waiting` logins in all, at most
    `max_waiting_per_address` from one address (so one address cannot fill it), each for
    at most `max_wait` seconds; beyond that `ServerBusy`, which the server answers with
    421. The threads run at a lower priority than the event loop (HASH_THREAD_NICENESS):
    on a busy core the share is an upper bound, not a reservation. The pool has as many
    threads as the share needs whole cores: each check takes 16 MiB, and memory freed by
    a thread stays in its malloc arena, so fewer threads hold less memory.
    """

    def __init__(
        self,
        cpu_share: float = 0.25,
        burst: float = 1.0,
        max_waiting: int = 64,
        max_waiting_per_address: int = 8,
        max_wait: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cpu_share <= 0:
            raise ValueError("cpu_share must be above 0")
        self.cpu_share = cpu_share
        self.burst = burst
        self.max_waiting = max_waiting
        self.max_waiting_per_address = max_waiting_per_address
        self.max_wait = max_wait
        self._clock = clock
        self._credit = burst
        self._refilled_at = clock()
        threads = max(1, math.ceil(cpu_share))
        self._pool = ThreadPoolExecutor(
            threads, thread_name_prefix="password-check", initializer=_yield_to_serving
        )
        self._slots = asyncio.Semaphore(threads)
        self._waiting: dict[str, int] = {}
        self._waiting_total = 0
        self.refused = 0  # logins answered "busy"
        self.checks = 0  # slow checks run, and the CPU time they took
        self.cpu_seconds = 0.0

    @property
    def waiting(self) -> int:
        return self._waiting_total

    async def run(
        self, address: str, function: Callable[..., Result], *arguments: object, capped: bool = True
    ) -> Result:
        """`function(*arguments)` in the pool, once the budget allows; `capped=False` exempts
        `address` from the per-address share of the queue (a safelisted address)."""
        if self._waiting_total >= self.max_waiting or (
            capped and self._waiting.get(address, 0) >= self.max_waiting_per_address
        ):
            self.refused += 1
            raise ServerBusy
        self._waiting_total += 1
        self._waiting[address] = self._waiting.get(address, 0) + 1
        try:
            async with asyncio.timeout(self.max_wait):
                await self._slots.acquire()
                try:
                    await self._wait_for_credit()
                except BaseException:
                    self._slots.release()
                    raise
        except TimeoutError:
            self.refused += 1
            raise ServerBusy from None
        finally:
            self._waiting_total -= 1
            left = self._waiting[address] - 1
            if left:
                self._waiting[address] = left
            else:
                del self._waiting[address]
        try:
            job = asyncio.get_running_loop().run_in_executor(self._pool, _timed, function, *arguments)
        except BaseException:
            self._slots.release()
            raise
        self.checks += 1
        # A thread cannot be stopped: if the login goes away meanwhile, the check still
        # finishes, and only then is its CPU time charged and its slot freed.
        job.add_done_callback(self._settle)
        result, _cpu_seconds = await asyncio.shield(job)
        return result

    def _settle(self, job: asyncio.Future[tuple[Any, float]]) -> None:
        self._slots.release()
        if not job.cancelled() and job.exception() is None:
            cpu_seconds = job.result()[1]
            self._credit -= cpu_seconds
            self.cpu_seconds += cpu_seconds

    async def _wait_for_credit(self) -> None:
        while True:
            now = self._clock()
            self._credit = min(self.burst, self._credit + (now - self._refilled_at) * self.cpu_share)
            self._refilled_at = now
            if self._credit > 0:
                return
            await asyncio.sleep(-self._credit / self.cpu_share)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
