"""Side-by-side runs: the same scenarios against several FTP servers, interleaved.

    python -m benchmarks.runner                 # full plan, 3 runs -> benchmarks/results/latest.*
    python -m benchmarks.runner --quick         # < 1 minute, ours (1 and 2 workers) + pyftpdlib, small sizes

For each scenario, each run measures every server once, in a rotated order (A B C,
B C A, ...), each on a freshly started server; the tables show medians over runs.
Servers are pinned to one core and the load generator to another (taskset; a server
spec may ask for more cores, as `--workers 2` does, and for fewer scenarios); files
live on tmpfs (/dev/shm) so the disk is not measured. Before each measurement the
runner waits (bounded) for sockets in TIME_WAIT left by the previous one to expire,
so no server pays for another's connections.

Exit status: 1 when any measurement had errors or lost/corrupted data, or a server
or the load generator failed; never because of timing. 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import payload, report, servers
from .loadgen import raise_open_file_limit
from .scenario_kit import NAMED_PASSWORD, NAMED_USER, UPLOAD_DIR, root_files
from .variant import Variant

RESULTS = Path(__file__).resolve().parent / "results"


NO_FORKING_10K = {
    "vsftpd": "10,000 sessions would be 20,000 vsftpd processes",
    "pure-ftpd": "10,000 sessions would be 20,000 pure-ftpd processes",
}
NAMED = {"user": NAMED_USER, "password": NAMED_PASSWORD}  # a variant that logs in as the named user
# cold_login measures the first check of a slow password hash: only ours stores one and
# remembers what verified. vsftpd and pure-ftpd check theirs at every login (conn_login named).
NO_HASH = "plain-text passwords: no hash to check"
NO_CACHE = "no cache: every named login is a first one (conn_login named)"
OURS_ONLY_COLD = {"pyftpdlib": NO_HASH, "aioftp": NO_HASH, "vsftpd": NO_CACHE, "pure-ftpd": NO_CACHE}  # fmt: skip
# The flood comes from 127.0.0.2-250: none may be safelisted; and no bans, so that the CPU
# budget of the password hash alone protects the bystander (see benchmarks/README.md).
FLOOD_ARGS = {"aioftp_lite": ("--ban-safelist", "", "--max-login-failures", "0")}
FULL_PLAN = [
    Variant("retr_big", "512 MiB", {"size-mib": 512, "duration": 120}),
    Variant("stor_big", "512 MiB", {"size-mib": 512, "duration": 120}),
    Variant("many_small", "100 clients", {"clients": 100, "repeat": 20}),
    Variant("many_small", "500 clients", {"clients": 500, "repeat": 20}),
    Variant("many_small", "1000 clients", {"clients": 1000, "repeat": 20}),
    Variant("conn_login", "10 clients", {"clients": 10, "duration": 3}),
    Variant("conn_login", "100 clients", {"clients": 100, "duration": 3}),
    Variant("conn_login", "named 10 clients", {"clients": 10, "duration": 3, **NAMED}),
    Variant("conn_login", "named 100 clients", {"clients": 100, "duration": 3, **NAMED}),
    Variant("cold_login", "200 users", {"users": 200, "clients": 20}, OURS_ONLY_COLD),
    Variant(
        "cold_login",
        "200 users, hash CPU 1.0",
        {"users": 200, "clients": 20},
        OURS_ONLY_COLD,
        {"aioftp_lite": ("--login-hash-cpu", "1.0")},
    ),
    Variant("idle_conns", "1000", {"clients": 1000}),
    Variant("idle_conns", "10000", {"clients": 10000}, NO_FORKING_10K),
    Variant("mixed", "200 clients", {"clients": 200, "duration": 10}),
    Variant(
        "login_flood",
        "24 flooders, no bans",
        {"clients": 24, "idle": 5, "duration": 10, "procs": 2, **NAMED},
        server_args=FLOOD_ARGS,
    ),
]
QUICK_PLAN = [
    Variant("retr_big", "16 MiB", {"size-mib": 16, "duration": 20}),
    Variant("stor_big", "16 MiB", {"size-mib": 16, "duration": 20}),
    Variant("many_small", "50 clients", {"clients": 50, "repeat": 4}),
    Variant("conn_login", "10 clients", {"clients": 10, "duration": 0.5}),
    Variant("conn_login", "named 10 clients", {"clients": 10, "duration": 0.5, **NAMED}),
    Variant("cold_login", "5 users", {"users": 5, "clients": 5}, OURS_ONLY_COLD),
    Variant("idle_conns", "200", {"clients": 200}),
    Variant("mixed", "20 clients", {"clients": 20, "duration": 0.5}),
    # pyftpdlib answers a wrong password after 3 s: a shorter flood would see no answer.
    Variant(
        "login_flood",
        "8 flooders, no bans",
        {"clients": 8, "idle": 0.5, "duration": 4, "procs": 2, **NAMED},
        server_args=FLOOD_ARGS,
    ),
]
FULL_SERVERS = ["aioftp_lite", "aioftp_lite_w2", "pyftpdlib", "aioftp", "vsftpd", "pure-ftpd",
                "aioftp_lite_s3", "s3_direct"]  # fmt: skip
QUICK_SERVERS = ["aioftp_lite", "aioftp_lite_w2", "pyftpdlib"]


def time_wait_count() -> int:
    """Sockets in TIME_WAIT on this host (state 06 in /proc/net/tcp*)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines, None)
                count += sum(1 for line in lines if line.split(None, 4)[3] == "06")
        except OSError:
            pass
    return count


def settle(threshold: int, limit: float) -> float:
    """Wait (at most `limit` s) until fewer than `threshold` sockets are in TIME_WAIT."""
    began = time.monotonic()
    while time_wait_count() >= threshold and time.monotonic() - began < limit:
        time.sleep(1.0)
    return time.monotonic() - began


def prepare_roots(workdir: Path, names: list[str], big_size: int) -> dict[str, Path]:
    """One root per server, the same files in each (hard links: tmpfs holds them once)."""
    source = workdir / "files"
    source.mkdir()
    for name, size in root_files(big_size).items():
        payload.write_file(source / name, size)
    roots = {}
    for name in names:
        root = workdir / "roots" / name
        (root / UPLOAD_DIR).mkdir(parents=True)
        for file in source.iterdir():
            os.link(file, root / file.name)
        servers.SERVERS[name].prepare(root)
        roots[name] = root
    return roots


def run_loadgen(
    variant: Variant, server: servers.RunningServer, cpu: int | None, limit: float
) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.loadgen", variant.scenario, "--port", str(server.port),
               "--server-pid", str(server.pid), "--limit", str(limit)]  # fmt: skip
    flags = variant.flags
    if server.spec.named_only and "user" not in flags:
        flags = {**flags, **NAMED}
    for flag, value in flags.items():
        command += [f"--{flag}", str(value)]
    try:
        done = subprocess.run(servers.pinned(command, cpu), capture_output=True, text=True, check=False,
                              timeout=limit + 60, cwd=servers.REPO)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"errors": {"loadgen_timeout": 1}, "error_count": 1, "corrupt": 0, "metrics": {}}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"errors": {"loadgen_failed": 1}, "error_count": 1, "corrupt": 0, "metrics": {},
                "stderr": done.stderr[-2000:]}  # fmt: skip
    return json.loads(lines[-1])


def measure_server(
    variant: Variant, name: str, root: Path, workdir: Path, server_cpu: int | None, loadgen_cpu: int | None
) -> dict[str, Any]:
    """One measurement of `variant` on a freshly started `name`, stopped afterwards."""
    try:
        server = servers.start(
            servers.SERVERS[name], root, workdir, server_cpu, variant.server_args.get(name, ())
        )
    except servers.ServerStartError as error:
        return {
            "errors": {"server_start": 1},
            "error_count": 1,
            "corrupt": 0,
            "metrics": {},
            "detail": str(error),
        }
    try:
        return run_loadgen(variant, server, loadgen_cpu, limit=300.0)
    finally:
        server.stop()


def run_direct(variant: Variant, cpu: int | None, limit: float) -> dict[str, Any]:
    """Direct S3 transfers (no FTP) on the load generator's core: a client of the store, as the
    load generator is a client of ours."""
    command = servers.direct_command(variant.scenario, variant.flags)
    try:
        done = subprocess.run(servers.pinned(command, cpu), capture_output=True, text=True, check=False,
                              timeout=limit + 60, cwd=servers.REPO)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"errors": {"direct_timeout": 1}, "error_count": 1, "corrupt": 0, "metrics": {}}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"errors": {"direct_failed": 1}, "error_count": 1, "corrupt": 0, "metrics": {},
                "stderr": done.stderr[-2000:]}  # fmt: skip
    return json.loads(lines[-1])


def start_store(workdir: Path, cpu: int | None) -> Any:
    """The SeaweedFS of the S3 variants, its data on the runner's tmpfs folder; its credentials
    go into this process's environment, which the servers inherit.

    It runs on the load generator's core, and so do direct S3 transfers: the store and the
    client side then share one core in both measurements, and the FTP server has the other.
    Unpinned, the store took the idle second core during a direct transfer (no load
    generator ran) but shared it with the load generator through ours, which measured the
    machine's layout rather than the FTP layer."""
    from .seaweedfs import SeaweedFS

    store = SeaweedFS(workdir / "seaweedfs", (servers.S3_BUCKET,), None if cpu is None else str(cpu))
    store.start()
    os.environ.update(store.environment())
    servers.S3_STORE["endpoint"] = store.endpoint
    return store


def summarize(measurements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per 'variant|server': median of every metric over the runs, errors summed."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in measurements:
        groups.setdefault(f"{entry['variant']}|{entry['server']}", []).append(entry["result"])
    summary = {}
    for key, results in groups.items():
        names = {name for result in results for name in result.get("metrics", {})}
        metrics = {}
        for name in names:
            values = [r["metrics"][name] for r in results if name in r.get("metrics", {})]
            values = [v for v in values if not math.isnan(v)]
            if values:
                metrics[name] = statistics.median(values)
        summary[key] = {
            "metrics": metrics,
            "runs": len(results),
            "errors": sum(r.get("error_count", 0) for r in results),
            "error_kinds": sorted({kind for r in results for kind in r.get("errors", {})}),
            "corrupt": sum(r.get("corrupt", 0) for r in results),
            "loadgen_cpu_pct": statistics.median([r.get("loadgen_cpu_pct", 0) for r in results]),
            "server_cpu_pct": statistics.median([r.get("server_cpu_pct", 0) for r in results]),
        }
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runner", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: < 1 minute, ours + pyftpdlib")
    parser.add_argument("--servers", help=f"comma-separated, from {','.join(servers.SERVERS)}")
    parser.add_argument("--scenarios", help="comma-separated scenario names to keep (default: all)")
    parser.add_argument("--runs", type=int, help="runs per server and scenario (default 3; quick 1)")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply client counts, sizes and durations (e.g. 0.5 for a shorter run)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where latest.{md,json,png} go (default benchmarks/results; quick: a temporary folder)",
    )
    parser.add_argument(
        "--settle",
        type=int,
        default=None,
        help="wait until fewer sockets than this are in TIME_WAIT (default 20000; quick: off)",
    )
    return parser  # fmt: skip


def scaled(variant: Variant, scale: float) -> Variant:
    if scale == 1.0:
        return variant
    flags = {k: (max(1, round(v * scale)) if k in ("clients", "size-mib", "users")
                 else v * scale if k in ("duration", "idle") else v)
             for k, v in variant.flags.items()}  # fmt: skip
    counted = flags.get("users", flags.get("clients", flags.get("size-mib", "")))
    label = " ".join(
        str(counted) if part.replace(",", "").isdigit() else part for part in variant.label.split()
    )
    return dataclasses.replace(variant, label=label, flags=flags)


def without_named(variant: Variant, names: list[str]) -> Variant:
    """`variant`, skipping the servers where the named user cannot log in (and saying why)."""
    if "user" not in variant.flags:
        return variant
    why = {name: reason for name in names if (reason := servers.SERVERS[name].named())}
    return dataclasses.replace(variant, skip={**variant.skip, **why}) if why else variant


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: the running server is stopped and the tmpfs folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plan = [scaled(v, args.scale) for v in (QUICK_PLAN if args.quick else FULL_PLAN)]
    if args.scenarios:
        wanted = set(args.scenarios.split(","))
        plan = [v for v in plan if v.scenario in wanted]
    names = args.servers.split(",") if args.servers else (QUICK_SERVERS if args.quick else FULL_SERVERS)
    unknown = [n for n in names if n not in servers.SERVERS]
    if unknown:
        print(f"runner: error: unknown server(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    runs = args.runs or (1 if args.quick else 3)
    threshold = args.settle if args.settle is not None else (0 if args.quick else 20000)
    notes: list[str] = []
    available = []
    for name in names:
        missing = servers.SERVERS[name].missing()
        if missing:
            notes.append(f"{name} skipped: {missing}")
        else:
            available.append(name)
            if note := servers.SERVERS[name].note():
                notes.append(f"{name}: {note}")
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    server_cpu, loadgen_cpu = (0, 1) if pin else (None, None)
    if not pin:
        notes.append("not pinned to cores (needs taskset and 2 cores)")
    pinning = {name: servers.cpus_for(servers.SERVERS[name], server_cpu) for name in available}
    plan = [without_named(variant, available) for variant in plan]
    raise_open_file_limit()
    big = max(int(v.flags.get("size-mib", 0) * payload.BLOCK_SIZE) for v in plan) if plan else 0
    big = max(big, payload.BLOCK_SIZE)
    workdir = Path(
        tempfile.mkdtemp(prefix="aioftp_lite_bench_", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    )
    workdir.chmod(0o755)  # vsftpd's anonymous sessions run as 'ftp'
    out = args.out or (None if args.quick else RESULTS)  # quick: the table on stdout only
    started = time.time()
    measurements: list[dict[str, Any]] = []
    failures = 0
    meta = report.machine_info(available, argv if argv is not None else sys.argv[1:], runs, args.quick, notes)
    meta["pinning"] = {"servers": pinning, "load generator": loadgen_cpu}
    store = None
    try:
        if any(servers.SERVERS[name].store for name in available):
            store = start_store(workdir, loadgen_cpu)
            meta["notes"].append(
                "S3 store: one SeaweedFS (weed mini) on 127.0.0.1, data on tmpfs, on the load generator's "
                "core; direct S3 transfers run on that core too"
            )
        roots = prepare_roots(workdir, available, big)
        cold = [
            int(v.flags["users"]) for v in plan if v.scenario == "cold_login" and "aioftp_lite" not in v.skip
        ]
        servers.write_ours_config(workdir, max(cold, default=0))
        for variant in plan:
            for run in range(runs):
                order = available[run % len(available) :] + available[: run % len(available)]
                for name in order:
                    if name in variant.skip or not servers.SERVERS[name].runs_in(variant.scenario):
                        continue
                    waited = settle(threshold, 65.0) if threshold else 0.0
                    if servers.SERVERS[name].direct:
                        result = run_direct(variant, loadgen_cpu, limit=300.0)
                    else:
                        result = measure_server(variant, name, roots[name], workdir, server_cpu, loadgen_cpu)
                    result["settle_s"] = round(waited, 1)
                    # Anything else running on the machine skews the numbers: keep a record of it.
                    result["loadavg_1m"] = round(os.getloadavg()[0], 2)
                    bad = result.get("error_count", 0) + result.get("corrupt", 0)
                    failures += bad
                    measurements.append(
                        {"variant": variant.key, "server": name, "run": run, "result": result}
                    )
                    shown = ", ".join(f"{k} {v:.1f}" for k, v in result.get("metrics", {}).items())
                    trouble = f"  ERRORS {bad}: {result.get('errors')}" if bad else ""
                    print(
                        f"[{time.time() - started:6.1f}s] {variant.key:<26} run {run + 1} {name:<14} {shown}{trouble}",
                        flush=True,
                    )
            if out is not None:  # written after every scenario: a cut-short run keeps its part
                report.write_all(
                    out, meta, plan, available, measurements, summarize(measurements), png=not args.quick
                )
    finally:
        if store is not None:
            store.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    meta["duration_s"] = round(time.time() - started, 1)
    loads = [m["result"]["loadavg_1m"] for m in measurements if "loadavg_1m" in m["result"]]
    if loads:
        meta["load_average"] = [min(loads), statistics.median(loads), max(loads)]
    summary = summarize(measurements)
    if out is not None:
        report.write_all(
            out, meta, plan, available, measurements, summary, png=not args.quick, readme=out == RESULTS
        )
        print(f"results in {out}")
    print(report.markdown(meta, plan, available, summary))
    if failures:
        print(f"runner: {failures} errors or corrupted transfers (see the table)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
