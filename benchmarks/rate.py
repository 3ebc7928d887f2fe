"""users_at_rate: one trial of the dkftpbench-style search, `clients` downloads at once each
read no faster than a rate; measured: how many kept it."""

from __future__ import annotations

import asyncio
import time

from .measure import Context, measured
from .scenario_kit import (
    KEEP_FRACTION,
    RATE_FILE,
    Target,
    check,
    login_many,
    quit_all,
)
from .wire import FTPClient, FTPFailure


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
