"""The benchmark scenarios: what each client does, what is measured, what is checked.

Each scenario fills a `Tally` (mergeable across load-generator processes) and is
turned into metrics by `summarize`. Set-up (connecting and logging in hundreds of
clients) happens before the measured phase; every process waits at `ctx.sync()` so the
phase starts together. Every operation has a timeout, every loop a count or a deadline.

Files the server's root must hold (the runner makes them, see `ROOT_FILES`):
`big.bin` (retr_big), `small.bin` (64 KiB), `mid.bin` (1 MiB), `flood.bin` (32 MiB,
login_flood), `list_NN.txt`, and a writable `upload/` folder (vsftpd's anonymous root
itself may not be writable).

Accounts every server must have (the runner sets them up, see servers.py): anonymous
with write access, the named user `NAMED_USER` (password `NAMED_PASSWORD`), and for
cold_login (ours only) `cold_user(0)`, `cold_user(1)`, ... with the same password.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from . import payload
from .measure import Context, Tally, measured, server_memory
from .wire import FTPClient, FTPFailure, login_cycle

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

# Direction of each metric: True when higher is better.
HIGHER_IS_BETTER = {
    "MiB/s": True, "files/s": True, "logins/s": True, "ops/s": True,
    "p50 ms": False, "p99 ms": False, "KiB/conn": False, "fresh ms": False,
    # login_flood: the bystander's download speed unloaded, under the flood, the second over
    # the first; its NOOP latency under the flood; wrong passwords answered 530 per second
    # (fewer is better: each is one guess of a brute force).
    "idle MiB/s": True, "flood MiB/s": True, "kept": True, "NOOP p99 ms": False, "guesses/s": False,
    # users_at_rate: the share of clients that kept the rate (one trial), the most that did (the search).
    "kept %": True, "users": True,
    # What a deployment's core count follows: the server's CPU seconds (its own and its
    # children's) per GiB moved and per 1,000 logins.
    "srv CPU s/GiB": False, "srv CPU s/1k logins": False,
}  # fmt: skip
TRANSFER_SCENARIOS = frozenset({"retr_big", "stor_big", "many_small", "mixed"})
LOGIN_SCENARIOS = frozenset({"conn_login", "cold_login"})


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


async def _retr_checked(client: FTPClient, path: str, size: int, tally: Tally, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        got, crc = await client.retr(path)
    check(tally, got, crc, size)
    tally.bytes += got


# --- scenarios ----------------------------------------------------------------------
async def retr_big(target: Target, ctx: Context) -> None:
    """One client downloads `size` bytes (big.bin); its size and CRC-32 are taken on the fly."""
    size, tally = ctx.params["size"], ctx.tally
    client = await login(target)
    async with measured(ctx):
        async with asyncio.timeout(ctx.params["duration"]):
            got, crc = await client.retr(BIG_FILE, bulk=True)
        tally.bytes += got
        tally.ops += 1
    # Compared after the timed phase: building the expected CRC (the whole payload) is not the server's time.
    check(tally, got, crc, size)
    await quit_all([client])


async def stor_big(target: Target, ctx: Context) -> None:
    """One client uploads `size` bytes, then downloads them again (untimed) to check them."""
    size, tally = ctx.params["size"], ctx.tally
    salt, path = 7, f"{UPLOAD_DIR}/stor_big.bin"
    client = await login(target)
    async with measured(ctx):
        async with asyncio.timeout(ctx.params["duration"]):
            tally.bytes += await client.stor_bulk(path, payload.iter_views(size, salt))
        tally.ops += 1
    async with asyncio.timeout(ctx.params["duration"]):
        got, crc = await client.retr(path, bulk=True)
    check(tally, got, crc, size, salt)
    # Every run then uploads into the same state (no earlier file to replace), whatever
    # the server's way of replacing one: see "Reading the numbers" in the README.
    await client.delete(path)
    await quit_all([client])


async def many_small(target: Target, ctx: Context) -> None:
    """`clients` clients at once, each downloading small.bin `repeat` times; latency per file."""
    tally, repeat = ctx.tally, ctx.params["repeat"]
    clients = await login_many(target, ctx.share(ctx.params["clients"]), tally)

    async def worker(client: FTPClient) -> None:
        for _ in range(repeat):
            began = time.monotonic()
            try:
                await _retr_checked(client, SMALL_FILE, SMALL_SIZE, tally, target.op_timeout)
            except (OSError, FTPFailure, TimeoutError) as failure:
                tally.error(failure)
                client.abort()
                return
            tally.latencies.append(time.monotonic() - began)
            tally.ops += 1

    async with measured(ctx):
        await asyncio.gather(*(worker(client) for client in clients))
    await quit_all(clients)


async def conn_login(target: Target, ctx: Context) -> None:
    """`clients` loops of connect + USER/PASS + QUIT for `duration` seconds."""
    tally = ctx.tally

    async def worker(deadline: float) -> None:
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                async with asyncio.timeout(target.op_timeout):
                    await login_cycle(target.host, target.port, target.user, target.password)
            except (OSError, FTPFailure, TimeoutError) as failure:
                tally.error(failure)
                await asyncio.sleep(0.01)  # a refusing server is not hammered in a tight loop
                continue
            tally.latencies.append(time.monotonic() - began)
            tally.ops += 1

    async with measured(ctx):
        deadline = time.monotonic() + ctx.params["duration"]
        await asyncio.gather(*(worker(deadline) for _ in range(ctx.share(ctx.params["clients"]))))


async def cold_login(target: Target, ctx: Context) -> None:
    """`users` accounts log in once each (connect + USER/PASS + QUIT), `clients` at a time.

    No password has verified before (a server just started), so each login costs the
    server a slow hash where it stores them hashed: what a restart costs.
    """
    tally = ctx.tally
    numbers = iter(range(ctx.index, ctx.params["users"], ctx.procs))

    async def worker() -> None:
        for number in numbers:
            began = time.monotonic()
            try:
                async with asyncio.timeout(target.op_timeout):
                    await login_cycle(target.host, target.port, cold_user(number), NAMED_PASSWORD)
            except (OSError, FTPFailure, TimeoutError) as failure:
                tally.error(failure)
                continue
            tally.latencies.append(time.monotonic() - began)
            tally.ops += 1

    async with measured(ctx):
        await asyncio.gather(*(worker() for _ in range(ctx.share(ctx.params["clients"]))))


async def _bystand(client: FTPClient, deadline: float, phase: str, noops: list[float], tally: Tally,
                   timeout: float) -> None:  # fmt: skip
    """Download FLOOD_FILE, then send a NOOP, until `deadline`: bytes and download time in
    `tally.extra` under `phase`, each NOOP's latency in `noops`."""
    seconds = 0.0
    while time.monotonic() < deadline:
        began = time.monotonic()
        async with asyncio.timeout(timeout):
            got, crc = await client.retr(FLOOD_FILE, bulk=True)
        seconds += time.monotonic() - began
        check(tally, got, crc, FLOOD_SIZE)
        tally.bytes += got
        tally.extra[f"{phase}_bytes_sum"] = tally.extra.get(f"{phase}_bytes_sum", 0) + got
        tally.ops += 1
        began = time.monotonic()
        async with asyncio.timeout(timeout):
            reply = await client.send("NOOP")
        if reply.code not in (200, 502):  # aioftp answers 502: still an answer
            raise FTPFailure(f"reply_{reply.code}", f"NOOP: {reply}")
        noops.append(time.monotonic() - began)
    tally.extra[f"{phase}_seconds_sum"] = tally.extra.get(f"{phase}_seconds_sum", 0.0) + seconds


async def _flood(target: Target, deadline: float, clients: int, first: int, tally: Tally) -> None:
    """`clients` connections at a time, each USER NAMED_USER / PASS <a wrong password, never
    the same twice> and, at the reply, the next connection from the next of FLOOD_ADDRESSES."""
    attempts = itertools.count(first)
    counts = tally.extra

    async def flooder() -> None:
        while time.monotonic() < deadline:
            number = next(attempts)
            source = (FLOOD_ADDRESSES[number % len(FLOOD_ADDRESSES)], 0)
            try:
                async with asyncio.timeout(target.op_timeout):
                    await login_cycle(target.host, target.port, NAMED_USER, f"wrong-{number}", source)
            except FTPFailure as failure:
                if failure.kind == "reply_530" and failure.after == "PASS":
                    outcome = "flood_rejected_sum"
                elif failure.kind == "reply_421":  # after PASS: busy; at the greeting: banned
                    outcome = "flood_busy_sum" if failure.after == "PASS" else "flood_refused_sum"
                else:
                    tally.errors[f"flood_{failure.kind}"] += 1
                    await asyncio.sleep(0.01)
                    continue
                counts[outcome] = counts.get(outcome, 0) + 1
            except (OSError, TimeoutError) as failure:
                tally.errors[f"flood_{type(failure).__name__}"] += 1
                await asyncio.sleep(0.01)  # a refusing server is not hammered in a tight loop
            else:
                tally.errors["flood_logged_in"] += 1  # a wrong password let in

    tasks = [asyncio.create_task(flooder()) for _ in range(clients)]
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    for task in tasks:  # attempts still waiting for their reply are abandoned, not counted
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def login_flood(target: Target, ctx: Context) -> None:
    """A logged-in bystander downloads FLOOD_FILE and sends NOOP in a loop, `idle` seconds
    alone, then `duration` seconds while `clients` connections from 249 other addresses send
    wrong passwords for NAMED_USER as fast as the server answers them.

    With several load-generator processes the first is the bystander and the others flood,
    so that flooding a server that answers at once cannot slow the bystander's own client.
    """
    params, tally = ctx.params, ctx.tally
    if ctx.procs == 1:
        flooders = params["clients"]
    else:
        others, rank = ctx.procs - 1, ctx.index - 1
        flooders = 0 if ctx.leader else params["clients"] // others + int(rank < params["clients"] % others)
    client = None
    try:
        if ctx.leader:
            payload.checksum(FLOOD_SIZE)  # the expected CRC, built before anything is timed
            client = await login(target)
            idle_noops: list[float] = []
            await _bystand(client, time.monotonic() + params["idle"], "idle", idle_noops, tally,
                           target.op_timeout)  # fmt: skip
            tally.extra["idle_noop_p99_ms_max"] = _percentile(idle_noops, 0.99) * 1000
        async with measured(ctx):
            deadline = time.monotonic() + params["duration"]
            work = [_flood(target, deadline, flooders, ctx.index * 1_000_000, tally)]
            if client is not None:
                work.append(_bystand(client, deadline, "flood", tally.latencies, tally, target.op_timeout))
            await asyncio.gather(*work)
    except (OSError, FTPFailure, TimeoutError) as failure:
        tally.error(failure)
        if client is not None:
            client.abort()
        return
    if client is not None:
        await quit_all([client])


async def idle_conns(target: Target, ctx: Context) -> None:
    """Hold `clients` logged-in idle sessions: server memory each, and a fresh client's service time."""
    tally = ctx.tally
    await ctx.sync()
    if ctx.leader and ctx.server_pid:
        before = server_memory(ctx.server_pid)
    began = time.monotonic()
    clients = await login_many(target, ctx.share(ctx.params["clients"]), tally)
    tally.extra["opened_sum"] = len(clients)
    tally.extra["open_seconds_max"] = time.monotonic() - began
    await ctx.sync()
    if ctx.leader:
        await asyncio.sleep(1.0)  # let the server settle (lazy buffers, freed set-up garbage)
        if ctx.server_pid:
            tally.extra["memory_delta"] = server_memory(ctx.server_pid) - before
        async with measured(ctx, together=False):
            for _ in range(5):
                start = time.monotonic()
                try:
                    client = await login(target)
                    await _retr_checked(client, SMALL_FILE, SMALL_SIZE, tally, target.op_timeout)
                    await quit_all([client])
                except (OSError, FTPFailure, TimeoutError) as failure:
                    tally.error(failure)
                    continue
                tally.latencies.append(time.monotonic() - start)
                tally.ops += 1
    await ctx.sync()
    # Every idle session must still be alive and answering.
    limit = asyncio.Semaphore(SETUP_CONCURRENCY * 5)

    async def still_there(client: FTPClient) -> None:
        async with limit:
            try:
                async with asyncio.timeout(target.op_timeout):
                    await client.send("NOOP")  # any reply will do: aioftp answers 502
            except (OSError, FTPFailure, TimeoutError) as failure:
                tally.error(failure)

    await asyncio.gather(*(still_there(client) for client in clients))
    for client in clients:
        client.abort()  # closing 10,000 sessions politely would only measure QUIT


async def mixed(target: Target, ctx: Context) -> None:
    """`clients` clients loop LIST + RETR mid.bin + STOR their own 1 MiB file for `duration` s."""
    tally, size = ctx.tally, MID_SIZE
    clients = await login_many(target, ctx.share(ctx.params["clients"]), tally)
    stored: dict[int, tuple[FTPClient, str, int]] = {}

    async def timed(work: Callable[[], Awaitable[object]]) -> None:
        began = time.monotonic()
        async with asyncio.timeout(target.op_timeout):
            await work()
        tally.latencies.append(time.monotonic() - began)
        tally.ops += 1

    async def worker(number: int, client: FTPClient, deadline: float) -> None:
        salt = 1 + ctx.index * 1_000_000 + number
        path = f"{UPLOAD_DIR}/mixed_{ctx.index}_{number}.bin"
        try:
            while time.monotonic() < deadline:
                await timed(lambda: client.list())
                await timed(lambda: _retr_checked(client, MID_FILE, size, tally, target.op_timeout))
                await timed(lambda: client.stor(path, payload.iter_blocks(size, salt)))
                stored[number] = (client, path, salt)
        except (OSError, FTPFailure, TimeoutError) as failure:
            tally.error(failure)
            client.abort()
            stored.pop(number, None)

    async with measured(ctx):
        deadline = time.monotonic() + ctx.params["duration"]
        await asyncio.gather(*(worker(n, client, deadline) for n, client in enumerate(clients)))

    async def verify(client: FTPClient, path: str, salt: int) -> None:
        try:
            async with asyncio.timeout(target.op_timeout):
                got, crc = await client.retr(path)
            check(tally, got, crc, size, salt)
        except (OSError, FTPFailure, TimeoutError) as failure:
            tally.error(failure)

    await asyncio.gather(*(verify(*entry) for entry in stored.values()))
    await quit_all(clients)


def rate_file_size(rate: int, duration: float) -> int:
    """users_at_rate's file: `duration` seconds of download at `rate` bytes/s."""
    return max(1, int(rate * duration))


async def users_at_rate(target: Target, ctx: Context) -> None:
    """`clients` clients at once each download RATE_FILE reading no faster than `rate` bytes/s,
    as users on lines of that speed would (dkftpbench's model); a client keeps the rate when
    its whole download (EPSV to 226) averaged at least KEEP_FRACTION of it. One trial of
    `aioftp-lite-bench --scenario users_at_rate`, which searches the most clients that keep it."""
    tally, rate = ctx.tally, ctx.params["rate"]
    size = rate_file_size(rate, ctx.params["duration"])
    wanted = ctx.share(ctx.params["clients"])
    clients = await login_many(target, wanted, tally)
    # Past this a client can no longer keep the rate: it is given up, not waited for.
    give_up = size / (rate * KEEP_FRACTION) + 0.5
    kept = 0

    async def worker(client: FTPClient) -> None:
        nonlocal kept
        began = time.monotonic()
        try:
            async with asyncio.timeout(give_up):
                got, crc = await client.retr(RATE_FILE, rate=rate)
        except TimeoutError:
            tally.extra["late_sum"] = tally.extra.get("late_sum", 0) + 1
            client.abort()
            return
        except (OSError, FTPFailure) as failure:
            tally.error(failure)
            client.abort()
            return
        seconds = time.monotonic() - began
        check(tally, got, crc, size)
        tally.bytes += got
        tally.ops += 1
        tally.latencies.append(seconds)
        if got == size and got / seconds >= KEEP_FRACTION * rate:
            kept += 1

    async with measured(ctx):
        await asyncio.gather(*(worker(client) for client in clients))
    tally.extra["kept_sum"] = kept
    tally.extra["clients_sum"] = wanted
    await quit_all(clients)


SCENARIOS: dict[str, Callable[[Target, Context], Awaitable[None]]] = {
    "retr_big": retr_big,
    "stor_big": stor_big,
    "many_small": many_small,
    "conn_login": conn_login,
    "cold_login": cold_login,
    "idle_conns": idle_conns,
    "mixed": mixed,
    "login_flood": login_flood,
    "users_at_rate": users_at_rate,
}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def summarize(name: str, tally: Tally) -> dict[str, float]:
    """The scenario's headline metrics from the merged tally."""
    ms = [value * 1000 for value in tally.latencies]
    if name in ("retr_big", "stor_big"):
        return {"MiB/s": tally.bytes / MiB / tally.elapsed}
    if name == "many_small":
        return {
            "files/s": tally.ops / tally.elapsed,
            "p50 ms": _percentile(ms, 0.5),
            "p99 ms": _percentile(ms, 0.99),
        }
    if name in ("conn_login", "cold_login"):
        return {
            "logins/s": tally.ops / tally.elapsed,
            "p50 ms": _percentile(ms, 0.5),
            "p99 ms": _percentile(ms, 0.99),
        }
    if name == "idle_conns":
        opened = tally.extra.get("opened_sum", 0)
        metrics = {"opened": float(opened), "fresh ms": max(ms) if ms else float("nan")}
        if "memory_delta" in tally.extra and opened:
            metrics["KiB/conn"] = tally.extra["memory_delta"] / opened / KiB
        return metrics
    if name == "mixed":
        return {"ops/s": tally.ops / tally.elapsed, "p99 ms": _percentile(ms, 0.99)}
    if name == "login_flood":
        extra = tally.extra
        idle = extra.get("idle_bytes_sum", 0) / MiB / max(extra.get("idle_seconds_sum", 0.0), 1e-9)
        flood = extra.get("flood_bytes_sum", 0) / MiB / max(extra.get("flood_seconds_sum", 0.0), 1e-9)
        return {
            "idle MiB/s": idle,
            "flood MiB/s": flood,
            "kept": flood / idle if idle else float("nan"),
            "NOOP p99 ms": _percentile(ms, 0.99),
            "guesses/s": extra.get("flood_rejected_sum", 0) / tally.elapsed,
        }
    if name == "users_at_rate":
        wanted = tally.extra.get("clients_sum", 0)
        return {"kept %": 100 * tally.extra.get("kept_sum", 0) / wanted if wanted else float("nan")}
    raise ValueError(f"unknown scenario {name!r}")
