"""The load generator: run one scenario against any FTP server and print JSON.

    python -m benchmarks.loadgen many_small --host 127.0.0.1 --port 2121 --clients 500 --repeat 20

It runs on uvloop where installed (asyncio otherwise), splits the clients over
`--procs` processes when one cannot drive enough load, and reports its own CPU use
during the measured phase (near 100 % of a core means the numbers may be ours, not
the server's). With `--server-pid` it also reports the server's CPU and memory.
The exit status is 0 whenever the scenario ran: errors and corrupted files are in
the JSON, for the caller to judge; 1 only if the load generator itself broke.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import resource
import sys
import time
from dataclasses import asdict
from typing import Any

from .measure import Context, Tally
from .scenario_kit import MiB, Target
from .scenarios import LOGIN_SCENARIOS, SCENARIOS, TRANSFER_SCENARIOS, summarize


def cpu_costs(scenario: str, server_cpu: float, moved: int, ops: int) -> dict[str, float]:
    """The server's CPU seconds per GiB moved or per 1,000 logins; nothing where the server
    used less than the clock's resolution (a reading of 0 measures nothing)."""
    if server_cpu <= 0:
        return {}
    if scenario in TRANSFER_SCENARIOS and moved:
        return {"srv CPU s/GiB": server_cpu / (moved / 2**30)}
    if scenario in LOGIN_SCENARIOS and ops:
        return {"srv CPU s/1k logins": 1000 * server_cpu / ops}
    return {}


def raise_open_file_limit(wanted: int = 65536) -> int:
    """As many descriptors as allowed (root may raise the hard limit too); returns the soft limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for new_hard in (max(hard, wanted), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, new_hard), new_hard))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def event_loop_name(use_uvloop: bool) -> str:
    if use_uvloop:
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            return "uvloop"
        except ImportError:
            pass
    return "asyncio"


async def run_in_loop(name: str, target: Target, ctx: Context, limit: float) -> None:
    try:
        async with asyncio.timeout(limit):
            await SCENARIOS[name](target, ctx)
    except TimeoutError:
        ctx.tally.errors["scenario_timeout"] += 1
    except Exception as failure:  # noqa: BLE001 - counted and reported, never hidden
        ctx.tally.error(failure)
    if ctx.tally.end < ctx.tally.start:  # interrupted before the measured phase ended
        ctx.tally.end = time.monotonic()


def run_process(name: str, target: Target, params: dict[str, Any], index: int, procs: int,
                barrier: Any, server_pid: int | None, limit: float, use_uvloop: bool) -> Tally:  # fmt: skip
    event_loop_name(use_uvloop)
    ctx = Context(Tally(), params, index=index, procs=procs, barrier=barrier, server_pid=server_pid)
    asyncio.run(run_in_loop(name, target, ctx, limit))
    return ctx.tally


def _child(queue: Any, *args: Any) -> None:
    raise_open_file_limit()
    try:
        tally = run_process(*args)
    except BaseException as failure:  # noqa: BLE001 - the parent must hear about it
        tally = Tally()
        tally.errors[f"loadgen_{type(failure).__name__}"] += 1
    # asdict would rebuild the Counter from (kind, count) pairs, counting the pairs themselves.
    queue.put(asdict(tally) | {"errors": dict(tally.errors)})


def run_scenario(name: str, target: Target, params: dict[str, Any], procs: int = 1,
                 server_pid: int | None = None, limit: float = 600.0, use_uvloop: bool = True) -> Tally:  # fmt: skip
    """Run `name` in one process, or in `procs` processes whose tallies are merged."""
    if procs <= 1:
        return run_process(name, target, params, 0, 1, None, server_pid, limit, use_uvloop)
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(procs), context.Queue()
    children = [
        context.Process(target=_child, args=(queue, name, target, params, i, procs, barrier, server_pid,
                                             limit, use_uvloop), daemon=True)
        for i in range(procs)
    ]  # fmt: skip
    for child in children:
        child.start()
    merged = Tally()
    for _ in children:
        try:
            raw = queue.get(timeout=limit + 60)
        except Exception:  # noqa: BLE001 - a child that never answered is an error, not a hang
            merged.errors["loadgen_child_lost"] += 1
            continue
        raw["errors"] = collections.Counter(raw["errors"])
        merged.merge(Tally(**raw))
    for child in children:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()  # our own child, by its handle
    return merged


def report(name: str, params: dict[str, Any], tally: Tally, procs: int, loop_name: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "scenario": name,
        "params": params,
        "metrics": summarize(name, tally),
        "ops": tally.ops,
        "bytes": tally.bytes,
        "errors": dict(tally.errors),
        "error_count": sum(tally.errors.values()),
        "corrupt": tally.corrupt,
        "elapsed_s": round(tally.elapsed, 4),
        "loadgen_cpu_pct": round(100 * tally.cpu / tally.elapsed, 1),
        "loadgen_procs": procs,
        "loadgen_loop": loop_name,
    }
    if "server_cpu" in tally.extra:
        result["server_cpu_pct"] = round(100 * tally.extra["server_cpu"] / tally.elapsed, 1)
        result["metrics"].update(cpu_costs(name, tally.extra["server_cpu"], tally.bytes, tally.ops))
    if "open_seconds_max" in tally.extra:
        result["open_seconds"] = round(tally.extra["open_seconds_max"], 3)
    if name == "login_flood":  # the flood's answers: 530, 421 after PASS, 421 at connect
        result["flood"] = {
            kind: tally.extra.get(f"flood_{kind}_sum", 0) for kind in ("rejected", "busy", "refused")
        }
        result["idle_noop_p99_ms"] = round(tally.extra.get("idle_noop_p99_ms_max", float("nan")), 3)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2121)
    parser.add_argument("--user", default="anonymous")
    parser.add_argument("--password", default="bench@example.com")
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients (default 100)")
    parser.add_argument("--repeat", type=int, default=20, help="many_small: downloads per client")
    parser.add_argument("--users", type=int, default=200, help="cold_login: accounts, each logging in once")
    parser.add_argument(
        "--idle", type=float, default=5.0, help="login_flood: seconds measured before the flood"
    )
    parser.add_argument("--size-mib", type=float, default=512, help="retr_big/stor_big: MiB (default 512)")
    parser.add_argument(
        "--duration",
        type=float,
        default=5.0,
        help="conn_login/mixed/login_flood: seconds of load; retr/stor_big: time limit of the transfer",
    )
    parser.add_argument("--rate", type=float, default=256.0,
                        help="users_at_rate: kbit/s each client reads at (default 256)")  # fmt: skip
    parser.add_argument("--procs", type=int, default=1, help="load-generator processes (default 1)")
    parser.add_argument("--server-pid", type=int, default=None, help="measure this server's CPU and memory")
    parser.add_argument("--op-timeout", type=float, default=30.0, help="seconds allowed per FTP operation")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds allowed for the whole scenario")
    parser.add_argument(
        "--sources",
        type=int,
        default=0,
        help="clients connect from 127.1.0.1 ... 127.1.0.N in turn (default: the kernel's choice)",
    )
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio even if uvloop is installed")
    return parser  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    raise_open_file_limit()
    params = {"clients": args.clients, "repeat": args.repeat, "size": int(args.size_mib * MiB),
              "duration": args.duration, "users": args.users, "idle": args.idle,
              "rate": int(args.rate * 1000 / 8)}  # fmt: skip
    sources = tuple(f"127.1.{n // 250}.{n % 250 + 1}" for n in range(args.sources))
    target = Target(args.host, args.port, args.user, args.password, args.op_timeout, sources)
    loop_name = event_loop_name(not args.no_uvloop)
    tally = run_scenario(
        args.scenario, target, params, args.procs, args.server_pid, args.limit, not args.no_uvloop
    )
    json.dump(report(args.scenario, params, tally, args.procs, loop_name), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
