"""login_flood: a bystander downloads while clients from 249 other addresses send wrong
passwords; measured: what the bystander keeps, and how fast the guesses are answered."""

from __future__ import annotations

import asyncio
import itertools
import time

from . import payload
from .measure import Context, Tally, measured
from .scenario_kit import (
    FLOOD_ADDRESSES,
    FLOOD_FILE,
    FLOOD_SIZE,
    NAMED_USER,
    Target,
    check,
    login,
    percentile,
    quit_all,
)
from .wire import FTPClient, FTPFailure, login_cycle


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
            tally.extra["idle_noop_p99_ms_max"] = percentile(idle_noops, 0.99) * 1000
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
