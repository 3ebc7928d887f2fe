"""What the scenarios share: the root's files and accounts, the target, and the helpers that
log clients in, quit them and check what they downloaded."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from . import payload
from .measure import Tally
from .wire import FTPClient, FTPFailure

KiB, MiB = 1024, 1024 * 1024
SMALL_FILE, SMALL_SIZE = "small.bin", 64 * KiB
MID_FILE, MID_SIZE = "mid.bin", 1 * MiB
BIG_FILE = "big.bin"
FLOOD_FILE, FLOOD_SIZE = "flood.bin", 32 * MiB
RATE_FILE = "rate.bin"  # users_at_rate: `rate` x `duration` bytes
# users_at_rate: a client keeps the rate when its download averaged at least this share of it
# (the transfer's own EPSV, connect and 226 take a little of its time).
KEEP_FRACTION = 0.9
NAMED_USER, NAMED_PASSWORD = "bench", "bench"
# login_flood: the flood comes from 127.0.0.2 ... 127.0.0.250, the bystander from 127.0.0.1.
FLOOD_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 251)]
UPLOAD_DIR = "upload"
LIST_FILLERS = 20
SETUP_CONCURRENCY = 20  # connects in flight during untimed set-up: vsftpd stalls for seconds at 100


def cold_user(number: int) -> str:
    """The name of cold_login's `number`-th account."""
    return f"cold{number:04d}"


def root_files(big_size: int) -> dict[str, int]:
    """File name -> size of the downloadable files (contents from `payload`, salt 0)."""
    files = {SMALL_FILE: SMALL_SIZE, MID_FILE: MID_SIZE, FLOOD_FILE: FLOOD_SIZE, BIG_FILE: big_size}
    files.update({f"list_{n:02d}.txt": 100 + n for n in range(LIST_FILLERS)})
    return files


@dataclass
class Target:
    host: str
    port: int
    user: str = "anonymous"
    password: str = "bench@example.com"
    op_timeout: float = 30.0
    # Local addresses the clients connect from, in turn (none: the kernel's choice). Behind a
    # balancer sticky by client address, clients from one address would all land on one node.
    sources: tuple[str, ...] = ()
    directory: str = ""  # the folder to work in after login (CWD); "": the login folder
    _next: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    def source(self) -> str | None:
        return self.sources[next(self._next) % len(self.sources)] if self.sources else None


# --- helpers ------------------------------------------------------------------------
async def login(target: Target) -> FTPClient:
    async with asyncio.timeout(target.op_timeout):
        client = await FTPClient.connect(target.host, target.port, target.source())
        try:
            await client.login(target.user, target.password)
            if target.directory:
                await client.expect(f"CWD {target.directory}", 250)
        except BaseException:
            client.abort()
            raise
        return client


async def login_many(target: Target, count: int, tally: Tally) -> list[FTPClient]:
    """`count` logged-in clients, at most SETUP_CONCURRENCY connecting at once; failures counted."""
    limit = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one() -> FTPClient | None:
        async with limit:
            try:
                return await login(target)
            except (OSError, FTPFailure, TimeoutError) as failure:
                tally.error(failure)
                return None

    opened = await asyncio.gather(*(one() for _ in range(count)))
    clients = [client for client in opened if client is not None]
    tally.extra["logins_sum"] = tally.extra.get("logins_sum", 0) + len(clients)
    return clients


async def quit_all(clients: list[FTPClient], timeout: float = 10.0) -> None:
    async def one(client: FTPClient) -> None:
        try:
            async with asyncio.timeout(timeout):
                await client.quit()
        except (OSError, FTPFailure, TimeoutError):
            client.abort()

    await asyncio.gather(*(one(client) for client in clients))


def check(tally: Tally, size: int, crc: int, expected_size: int, salt: int = 0) -> None:
    if size != expected_size or crc != payload.checksum(expected_size, salt):
        tally.corrupt += 1


async def retr_checked(client: FTPClient, path: str, size: int, tally: Tally, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        got, crc = await client.retr(path)
    check(tally, got, crc, size)
    tally.bytes += got


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")
