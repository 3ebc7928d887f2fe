"""`aioftp-lite-bench`: the load generator's scenarios against any FTP server, by URL.

    aioftp-lite-bench ftp://user:pw@host:port/dir --scenario many_small --clients 500
    aioftp-lite-bench ftp://host/pub --scenario users_at_rate --rate 256 --clients 200
    aioftp-lite-bench --compare ftp://host:2121/ ftp://host:21/ --rounds 3 --server-pid 123 --server-pid 456

It works in a fresh folder inside the URL's folder and removes it afterwards. With
--compare the servers are measured interleaved, round by round in a rotated order, and
the report shows medians and each server's ratio against the first. Given a server's
PID, the report states the server's CPU seconds per GiB moved and per 1,000 logins
(from /proc/PID/stat, the process and its children, over each whole measurement).

Exit status: 0; 1 when a measurement had errors or corrupted files (the search's trials
beyond the server's capacity excepted) or the work folder could not be made; 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from aioftp_lite import FTPError
from client.target import Target as URLTarget
from client.target import TargetError, parse_target

from . import loadgen, ratesearch, toolreport
from .measure import Context, Tally, proc_cpu_seconds
from .rate import rate_file_size
from .scenario_kit import BIG_FILE, MID_FILE, MID_SIZE, RATE_FILE, SMALL_FILE, SMALL_SIZE, MiB, Target
from .workfolder import WorkFolder

# cold_login needs accounts made for it on the server, and login_flood sends wrong passwords
# from 249 addresses (a real server bans them): the runner sets both up, a URL cannot.
SCENARIOS = ["many_small", "conn_login", "retr_big", "stor_big", "mixed", "idle_conns", "users_at_rate"]
ANONYMOUS_PASSWORD = "aioftp-lite-bench@"


@dataclass
class Server:
    url: URLTarget
    password: str
    pid: int | None

    @property
    def shown(self) -> str:
        return self.url.url()  # never the password


class Progress:
    """One line on the terminal, rewritten in place (\\r) while a measurement runs; silent
    when standard error is not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self._width = 0

    def show(self, text: str) -> None:
        if self.live:
            width = shutil.get_terminal_size().columns - 1
            self._width = min(len(text), width)
            self.stream.write("\r" + text[:width])
            self.stream.flush()

    def clear(self) -> None:
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    async def follow(self, label: str, tally: Tally) -> None:
        began = time.monotonic()
        while True:
            errors = sum(tally.errors.values())
            self.show(f"{label}: {time.monotonic() - began:5.1f} s, {tally.ops:,} ops, "
                      f"{tally.bytes / MiB:,.1f} MiB, {errors} errors")  # fmt: skip
            await asyncio.sleep(0.25)


def needed_files(scenario: str, params: dict[str, Any]) -> dict[str, int] | None:
    """What the scenario downloads (name -> size); None: it needs no work folder."""
    return {
        "many_small": {SMALL_FILE: SMALL_SIZE},
        "idle_conns": {SMALL_FILE: SMALL_SIZE},
        "retr_big": {BIG_FILE: params["size"]},
        "stor_big": {},
        "mixed": {MID_FILE: MID_SIZE},
        "users_at_rate": {RATE_FILE: rate_file_size(params["rate"], params["duration"])},
    }.get(scenario)


def label(scenario: str, params: dict[str, Any]) -> str:
    clients = params["clients"]
    return {
        "many_small": f"many_small {clients} clients x {params['repeat']} files",
        "conn_login": f"conn_login {clients} clients, {params['duration']:g} s",
        "retr_big": f"retr_big {params['size'] / MiB:g} MiB",
        "stor_big": f"stor_big {params['size'] / MiB:g} MiB",
        "mixed": f"mixed {clients} clients, {params['duration']:g} s",
        "idle_conns": f"idle_conns {clients}",
        "users_at_rate": f"users_at_rate {params['rate'] * 8 / 1000:g} kbit/s, up to {clients}",
    }[scenario]


def _cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        return proc_cpu_seconds(pid)
    except OSError:
        return None


def logins_of(scenario: str, tally: Tally) -> int:
    return tally.ops if scenario == "conn_login" else int(tally.extra.get("logins_sum", 0))


class Bench:
    """Measurements of the servers, one at a time, in this process's event loop."""

    def __init__(self, servers: list[Server], args: argparse.Namespace, loop_name: str, progress: Progress):
        self.servers, self.args, self.loop_name, self.progress = servers, args, loop_name, progress
        self.psutil = importlib.util.find_spec("psutil") is not None  # idle_conns' memory per session

    async def once(self, server: Server, directory: str, scenario: str, params: dict[str, Any],
                   shown: str) -> dict[str, Any]:  # fmt: skip
        """One measurement: the load generator's report, plus logins and the server's CPU seconds."""
        target = Target(server.url.host, server.url.port, server.url.login_user, server.password,
                        self.args.op_timeout, directory=directory)  # fmt: skip
        ctx = Context(Tally(), params, server_pid=server.pid if self.psutil else None)
        before = _cpu(server.pid)
        ticker = asyncio.create_task(self.progress.follow(shown, ctx.tally))
        try:
            await loadgen.run_in_loop(scenario, target, ctx, self.args.limit)
        finally:
            ticker.cancel()
            self.progress.clear()
        after = _cpu(server.pid)
        result = loadgen.report(scenario, params, ctx.tally, 1, self.loop_name)
        result["logins"] = logins_of(scenario, ctx.tally)
        result["server_cpu_s"] = after - before if before is not None and after is not None else None
        return result

    async def search(
        self, server: Server, directory: str, params: dict[str, Any], shown: str
    ) -> dict[str, Any]:
        """users_at_rate: the most clients of which SHARE keep the rate; every trial's report kept."""
        trials: list[dict[str, Any]] = []

        async def passes(clients: int) -> bool:
            result = await self.once(server, directory, "users_at_rate", params | {"clients": clients},
                                     f"{shown}, {clients} clients")  # fmt: skip
            kept = result["metrics"]["kept %"]
            trials.append({"clients": clients, "kept %": kept, "passed": kept >= 100 * ratesearch.SHARE,
                           "errors": result["errors"], "corrupt": result["corrupt"]})  # fmt: skip
            result_of_trials.append(result)
            return bool(trials[-1]["passed"])

        result_of_trials: list[dict[str, Any]] = []
        users = await ratesearch.most_users(passes, params["clients"])
        cpu = [r["server_cpu_s"] for r in result_of_trials]
        errors: dict[str, int] = {}
        for result in result_of_trials:
            for kind, count in result["errors"].items():
                errors[kind] = errors.get(kind, 0) + count
        return {
            "scenario": "users_at_rate",
            "params": params,
            "metrics": {"users": users},
            "trials": trials,
            "ops": sum(r["ops"] for r in result_of_trials),
            "bytes": sum(r["bytes"] for r in result_of_trials),
            "logins": sum(r["logins"] for r in result_of_trials),
            "errors": errors,
            "error_count": sum(errors.values()),
            "corrupt": sum(r["corrupt"] for r in result_of_trials),
            "elapsed_s": round(sum(r["elapsed_s"] for r in result_of_trials), 4),
            "loadgen_cpu_pct": max(r["loadgen_cpu_pct"] for r in result_of_trials),
            "server_cpu_s": None if None in cpu else sum(cpu),
        }

    async def scenario(self, scenario: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every server in every round (rotated order), each in its own work folder."""
        files = needed_files(scenario, params)
        folders = [
            WorkFolder(s.url.host, s.url.port, s.url.login_user, s.password, s.url.path, files,
                       self.args.op_timeout) if files is not None else None
            for s in self.servers
        ]  # fmt: skip
        runs: list[dict[str, Any]] = []
        made: list[WorkFolder] = []
        try:
            directories = []
            for server, folder in zip(self.servers, folders, strict=True):
                if folder is None:
                    directories.append(server.url.path)
                    continue
                self.progress.show(f"{scenario}: preparing {folder.path} on {server.shown}")
                directories.append(await folder.__aenter__())
                made.append(folder)
                self.progress.clear()
            count, rounds = len(self.servers), self.args.rounds
            for round_number in range(rounds):
                for step in range(count):
                    index = (round_number + step) % count
                    shown = (
                        f"[{index + 1}/{count}, round {round_number + 1}/{rounds}] {label(scenario, params)}"
                    )
                    server, directory = self.servers[index], directories[index]
                    if scenario == "users_at_rate":
                        result = await self.search(server, directory, params, shown)
                    else:
                        result = await self.once(server, directory, scenario, params, shown)
                    runs.append({"scenario": scenario, "label": label(scenario, params), "server": index,
                                 "round": round_number, "result": result})  # fmt: skip
        finally:
            self.progress.clear()
            for folder in made:
                await folder.__aexit__(None, None, None)
                for what in folder.left:
                    print(f"aioftp-lite-bench: could not remove {what}", file=sys.stderr)
        return runs


def summarize(runs: list[dict[str, Any]], servers: list[Server]) -> list[dict[str, Any]]:
    """Per scenario and server: medians of the metrics over rounds, totals of the rest, the
    server's CPU per GiB and per 1,000 logins, and ratios against the first server."""
    summary: list[dict[str, Any]] = []
    for scenario_label in dict.fromkeys(run["label"] for run in runs):
        rows = []
        for index, server in enumerate(servers):
            results = [r["result"] for r in runs if r["label"] == scenario_label and r["server"] == index]
            names = dict.fromkeys(name for result in results for name in result["metrics"])
            metrics = {name: statistics.median(r["metrics"][name] for r in results if name in r["metrics"])
                       for name in names}  # fmt: skip
            moved, logins = sum(r["bytes"] for r in results), sum(r["logins"] for r in results)
            cpu_values = [r["server_cpu_s"] for r in results]
            cpu = None if not cpu_values or None in cpu_values else sum(cpu_values)
            rows.append({
                "scenario": results[0]["scenario"], "label": scenario_label, "server": index,
                "url": server.shown, "pid": server.pid, "metrics": metrics,
                "errors": sum(r["error_count"] for r in results),
                "corrupt": sum(r["corrupt"] for r in results),
                "bytes": moved, "logins": logins, "server_cpu_s": cpu,
                "cpu_s_per_gib": cpu / (moved / 2**30) if cpu is not None and moved else None,
                "cpu_s_per_1000_logins": cpu / logins * 1000 if cpu is not None and logins else None,
                "loadgen_cpu_pct": max(r["loadgen_cpu_pct"] for r in results),
            })  # fmt: skip
        for row in rows:
            names = [*row["metrics"], *toolreport.CPU_FIGURES]
            row["ratios"] = {
                name: toolreport.ratio(name, toolreport.value(row, name), toolreport.value(rows[0], name))
                for name in names
            }
        summary += rows
    return summary


def _positive(kind: type) -> Any:
    def convert(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0: {text}")
        return value

    return convert


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aioftp-lite-bench",
        description="Measure FTP servers by URL with aioftp_lite's load generator.",
        epilog=f"scenarios: {', '.join(SCENARIOS)}",
    )
    parser.add_argument("url", nargs="?", help="ftp://[user[:password]@]host[:port][/folder]")
    parser.add_argument("--compare", nargs="+", metavar="URL", help="measure these servers interleaved, "
                        "with ratios against the first")  # fmt: skip
    parser.add_argument("--scenario", default="many_small",
                        help="one or more, comma-separated (default many_small)")  # fmt: skip
    parser.add_argument("--clients", type=_positive(int), default=100,
                        help="concurrent clients; users_at_rate: the most tried (default 100)")  # fmt: skip
    parser.add_argument("--files", type=_positive(int), default=20,
                        help="many_small: downloads of a 64 KiB file per client (default 20)")  # fmt: skip
    parser.add_argument("--duration", type=_positive(float), default=5.0,
                        help="conn_login, mixed: seconds of load; users_at_rate: seconds each download "
                        "takes at the rate (default 5)")  # fmt: skip
    parser.add_argument("--size-mib", type=_positive(float), default=128,
                        help="retr_big, stor_big: MiB moved (default 128)")  # fmt: skip
    parser.add_argument("--rate", type=_positive(float), default=256,
                        help="users_at_rate: kbit/s (1,000 bits) per client (default 256)")  # fmt: skip
    parser.add_argument(
        "--rounds", type=_positive(int), default=1, help="measurements of each server (median)"
    )
    parser.add_argument("--server-pid", type=int, action="append", default=[], metavar="PID",
                        help="the server's process, for its CPU per GiB and per 1,000 logins; repeatable, "
                        "in --compare's order")  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--png", type=Path, metavar="FILE", help="also plot them (needs matplotlib)")
    parser.add_argument("--op-timeout", type=_positive(float), default=30.0, help="seconds per FTP operation")
    parser.add_argument(
        "--limit", type=_positive(float), default=600.0, help="seconds per measurement at most"
    )
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio even if uvloop is installed")
    return parser


def parse_servers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Server]:
    if bool(args.url) == bool(args.compare):
        parser.error("give one URL, or --compare URL1 URL2 ...")
    urls = [args.url] if args.url else args.compare
    if len(args.server_pid) > len(urls):
        parser.error(f"{len(args.server_pid)} --server-pid for {len(urls)} server(s)")
    servers = []
    for number, text in enumerate(urls):
        try:
            url = parse_target(text)
        except TargetError as error:
            parser.error(str(error))
        if url.secure:
            parser.error(f"{text}: the load generator speaks plain FTP only (no ftpes://)")
        password = url.password
        if password is None:
            password = os.environ.get("AIOFTP_LITE_PASSWORD") if url.needs_password else ANONYMOUS_PASSWORD
        if password is None:
            parser.error(f"{text}: no password (put it in the URL or in $AIOFTP_LITE_PASSWORD)")
        pid = args.server_pid[number] if number < len(args.server_pid) else None
        if pid is not None and not os.path.exists(f"/proc/{pid}/stat"):
            parser.error(f"--server-pid {pid}: no such process")
        servers.append(Server(url, password, pid))
    return servers


def parse_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "clients": args.clients,
        "repeat": args.files,
        "size": int(args.size_mib * MiB),
        "duration": args.duration,
        "rate": int(args.rate * 1000 / 8),
        "users": 0,  # cold_login's; not offered here
        "idle": 0.0,  # login_flood's; not offered here
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    servers = parse_servers(parser, args)
    scenarios = [name.strip() for name in args.scenario.split(",") if name.strip()]
    for name in scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r} (choose from {', '.join(SCENARIOS)})")
    if args.png is not None and not _importable("matplotlib"):
        print("aioftp-lite-bench: --png needs matplotlib, which is not installed "
              "(pip install 'aioftp_lite[bench]')", file=sys.stderr)  # fmt: skip
        return 2
    loadgen.raise_open_file_limit()
    loop_name = loadgen.event_loop_name(not args.no_uvloop)
    params = parse_params(args)
    bench = Bench(servers, args, loop_name, Progress(sys.stderr))
    runs: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        for name in scenarios:
            # The big transfers run to the end however slow the line: --limit bounds them.
            scenario_params = (
                params | {"duration": args.limit} if name in ("retr_big", "stor_big") else params
            )
            runs += asyncio.run(bench.scenario(name, scenario_params))
    except (OSError, TimeoutError, FTPError) as error:  # the measurements count theirs: this is set-up
        print(f"aioftp-lite-bench: preparing the work folder: {error}", file=sys.stderr)
        return 1
    summary = summarize(runs, servers)
    meta = toolreport.meta(argv if argv is not None else sys.argv[1:], loop_name, args.rounds,
                           time.monotonic() - started)  # fmt: skip
    document = {"meta": meta, "servers": [{"url": s.shown, "pid": s.pid} for s in servers],
                "params": params, "scenarios": scenarios, "runs": runs, "summary": summary}  # fmt: skip
    sys.stdout.write(toolreport.markdown(document))
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=1))
    if args.png is not None:
        toolreport.plot(args.png, document)
    bad = any(row["corrupt"] or (row["errors"] and row["scenario"] != "users_at_rate") for row in summary)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
