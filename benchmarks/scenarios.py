"""The benchmark scenarios: what each client does, what is measured, what is checked.

Each scenario fills a `Tally` (mergeable across load-generator processes) and is
turned into metrics by `summarize`. Set-up (connecting and logging in hundreds of
clients) happens before the measured phase; every process waits at `ctx.sync()` so the
phase starts together. Every operation has a timeout, every loop a count or a deadline.

login_flood lives in flood.py and users_at_rate in rate.py; what every scenario shares
(the root's files, the accounts, `Target`, logging in and checking) in scenario_kit.py.

Files the server's root must hold (the runner makes them, see `scenario_kit.root_files`):
`big.bin` (retr_big), `small.bin` (64 KiB), `mid.bin` (1 MiB), `flood.bin` (32 MiB,
login_flood), `list_NN.txt`, and a writable `upload/` folder (vsftpd's anonymous root
itself may not be writable).

Accounts every server must have (the runner sets them up, see servers.py): anonymous
with write access, the named user `NAMED_USER` (password `NAMED_PASSWORD`), and for
cold_login (ours only) `cold_user(0)`, `cold_user(1)`, ... with the same password.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from . import payload
from .flood import login_flood
from .measure import Context, Tally, measured, server_memory
from .rate import users_at_rate
from .scenario_kit import (
    BIG_FILE,
    MID_FILE,
    MID_SIZE,
    NAMED_PASSWORD,
    SETUP_CONCURRENCY,
    SMALL_FILE,
    SMALL_SIZE,
    UPLOAD_DIR,
    KiB,
    MiB,
    Target,
    check,
    cold_user,
    login,
    login_many,
    percentile,
    quit_all,
    retr_checked,
)
from .wire import FTPClient, FTPFailure, login_cycle

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
                await retr_checked(client, SMALL_FILE, SMALL_SIZE, tally, target.op_timeout)
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
                    await retr_checked(client, SMALL_FILE, SMALL_SIZE, tally, target.op_timeout)
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
                await timed(lambda: retr_checked(client, MID_FILE, size, tally, target.op_timeout))
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


def summarize(name: str, tally: Tally) -> dict[str, float]:
    """The scenario's headline metrics from the merged tally."""
    ms = [value * 1000 for value in tally.latencies]
    if name in ("retr_big", "stor_big"):
        return {"MiB/s": tally.bytes / MiB / tally.elapsed}
    if name == "many_small":
        return {
            "files/s": tally.ops / tally.elapsed,
            "p50 ms": percentile(ms, 0.5),
            "p99 ms": percentile(ms, 0.99),
        }
    if name in ("conn_login", "cold_login"):
        return {
            "logins/s": tally.ops / tally.elapsed,
            "p50 ms": percentile(ms, 0.5),
            "p99 ms": percentile(ms, 0.99),
        }
    if name == "idle_conns":
        opened = tally.extra.get("opened_sum", 0)
        metrics = {"opened": float(opened), "fresh ms": max(ms) if ms else float("nan")}
        if "memory_delta" in tally.extra and opened:
            metrics["KiB/conn"] = tally.extra["memory_delta"] / opened / KiB
        return metrics
    if name == "mixed":
        return {"ops/s": tally.ops / tally.elapsed, "p99 ms": percentile(ms, 0.99)}
    if name == "login_flood":
        extra = tally.extra
        idle = extra.get("idle_bytes_sum", 0) / MiB / max(extra.get("idle_seconds_sum", 0.0), 1e-9)
        flood = extra.get("flood_bytes_sum", 0) / MiB / max(extra.get("flood_seconds_sum", 0.0), 1e-9)
        return {
            "idle MiB/s": idle,
            "flood MiB/s": flood,
            "kept": flood / idle if idle else float("nan"),
            "NOOP p99 ms": percentile(ms, 0.99),
            "guesses/s": extra.get("flood_rejected_sum", 0) / tally.elapsed,
        }
    if name == "users_at_rate":
        wanted = tally.extra.get("clients_sum", 0)
        return {"kept %": 100 * tally.extra.get("kept_sum", 0) / wanted if wanted else float("nan")}
    raise ValueError(f"unknown scenario {name!r}")
