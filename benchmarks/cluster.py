"""many_small through HAProxy: two nodes of ours against one node, behind the same balancer.

    python -m benchmarks.cluster [--runs 3] [--clients 100,500] [--repeat 20] [--sources 100]
                                 [--out benchmarks/results/cluster]

The set-up of docs/cluster.md on one machine, every part started here and stopped by PID:
HAProxy (TCP mode, `send-proxy-v2`, sticky by client address) on 127.0.0.1, nodes on
127.0.0.2 and 127.0.0.3 with their own passive ranges, `--proxy-protocol`, one Redis for
the shared state (`--state`). Both nodes serve ONE local folder on tmpfs: many_small only
reads, and on the S3 store the store itself is the limit long before two nodes are (see
benchmarks/README.md, "Cluster"), so this measures the nodes and the balancer, not the store.

The clients connect from `--sources` addresses (127.1.0.x): the balancer hashes the client's
address, and from one address every client would land on the same node. Each run measures
the one-node and the two-node cluster once, in alternating order, each freshly started;
nothing is pinned (balancer, nodes, Redis and load generator share the 2 cores), and the CPU
time of each part over the measured run is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import payload, report, servers
from .haproxy import HAProxy, Node, cluster_config, haproxy_binary
from .redis_server import RedisServer, free_port, redis_binary
from .runner import settle
from .scenario_kit import UPLOAD_DIR, root_files

BALANCER, BALANCER_SOURCE = "127.0.0.1", "127.0.0.1"
NODE_HOSTS = ("127.0.0.2", "127.0.0.3")
PASSIVE_PORTS = 800  # per node: above the clients that hold a data connection at once
RESULTS = Path(__file__).resolve().parent / "results" / "cluster"


def passive_ranges(count: int) -> list[tuple[int, int]]:
    """`count` consecutive ranges of PASSIVE_PORTS ports."""
    low = 61100  # above the ephemeral range (32768-60999 here): no client socket holds them
    return [(low + n * PASSIVE_PORTS, low + (n + 1) * PASSIVE_PORTS - 1) for n in range(count)]


class Cluster:
    """HAProxy in front of `size` nodes serving `root`, sharing `redis`."""

    def __init__(self, workdir: Path, root: Path, size: int, redis: RedisServer, config: Path) -> None:
        self.workdir = workdir / f"cluster{size}"
        self.root, self.redis, self.config = root, redis, config
        self.port = free_port(BALANCER)
        self.nodes = [Node(name, host, free_port(host), passive)
                      for name, host, passive in zip("ab", NODE_HOSTS[:size], passive_ranges(size), strict=False)]  # fmt: skip
        self.haproxy = HAProxy(self.workdir, cluster_config(BALANCER, self.port, self.nodes, BALANCER_SOURCE),
                               BALANCER, self.port)  # fmt: skip
        self.processes: list[servers.RunningServer] = []

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(servers.REPO),
                                                                          os.environ.get("PYTHONPATH")]))}  # fmt: skip
        for node in self.nodes:
            low, high = node.passive
            command = [sys.executable, "-m", "aioftp_lite", "serve", "--root", str(self.root), "--host", node.host,
                       "--port", str(node.port), "--log-level", "WARNING", "--config", str(self.config),
                       "--max-connections", str(servers.MAX_SESSIONS), "--state", self.redis.url,
                       "--proxy-protocol", "--proxy-trusted", f"{BALANCER_SOURCE}/32",
                       "--passive-ports", f"{low}-{high}", "--masquerade-address", BALANCER]  # fmt: skip
            log = self.workdir / f"node-{node.name}.log"
            with open(log, "wb") as output:
                process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True, env=env)  # fmt: skip
            self.processes.append(
                servers.RunningServer(servers.SERVERS["aioftp_lite"], process, node.port, log)
            )
        for running, node in zip(self.processes, self.nodes, strict=True):
            _wait_listening(running, node.host, node.port)
        self.haproxy.start()

    def pids(self) -> dict[str, int]:
        assert self.haproxy.process is not None
        return {"haproxy": self.haproxy.process.pid,
                **{f"node {node.name}": running.pid for node, running in zip(self.nodes, self.processes, strict=True)}}  # fmt: skip

    def stop(self) -> None:
        self.haproxy.stop()
        for running in self.processes:
            running.stop()


def _wait_listening(running: servers.RunningServer, host: str, port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(
                f"node exited with {running.process.returncode}: {running.log.read_text()[-500:]}"
            )
        try:
            socket.create_connection((host, port), timeout=1).close()  # a health check, as HAProxy's
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"node {host}:{port} not listening after {timeout:.0f} s")


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    import psutil

    seconds = {}
    for name, pid in pids.items():
        try:
            times = psutil.Process(pid).cpu_times()
            seconds[name] = times.user + times.system
        except psutil.Error:
            seconds[name] = float("nan")
    return seconds


def measure(cluster: Cluster, clients: int, repeat: int, sources: int, redis_pid: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.loadgen", "many_small", "--host", BALANCER, "--port",
               str(cluster.port), "--clients", str(clients), "--repeat", str(repeat), "--sources", str(sources),
               "--limit", "300"]  # fmt: skip
    pids = {**cluster.pids(), "redis": redis_pid}
    before, began = cpu_seconds(pids), time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=400, cwd=servers.REPO)
    wall = time.monotonic() - began
    after = cpu_seconds(pids)
    lines = done.stdout.strip().splitlines()
    result: dict[str, Any] = (
        json.loads(lines[-1])
        if done.returncode == 0 and lines
        else {
            "errors": {"loadgen_failed": 1},
            "error_count": 1,
            "corrupt": 0,
            "metrics": {},
            "stderr": done.stderr[-2000:],
        }
    )
    # CPU of each part over the whole load-generator run (set-up included), in % of one core.
    result["cpu_pct"] = {name: round(100 * (after[name] - before[name]) / wall, 1) for name in pids}
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)
    return result


def markdown(meta: dict[str, Any], summary: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"Measured {meta['date']} on {meta['machine']}, Python {meta['python']}, {meta['haproxy']}, {meta['redis']}.",
        "",
        (
            f"many_small through HAProxy (TCP mode, send-proxy-v2, `balance source`), clients from {meta['sources']} "
            f"addresses, each downloading a 64 KiB file {meta['repeat']} times; nodes on one tmpfs folder, shared "
            f"state in Redis; nothing pinned (2 cores). Medians of {meta['runs']} runs, one and two nodes "
            "alternating. In brackets: two nodes compared with one (above 1: two are better). CPU: % of one core "
            "over the load generator's whole run (set-up included), median."
        ),
        "",
        "| clients | metric | 1 node | 2 nodes |",
        "|---|---|---:|---:|",
    ]
    for clients in meta["clients"]:
        one, two = summary[f"{clients}|1"], summary[f"{clients}|2"]
        for metric in ("files/s", "p50 ms", "p99 ms"):
            a, b = one["metrics"].get(metric), two["metrics"].get(metric)
            ratio = (b / a if metric == "files/s" else a / b) if a and b else float("nan")
            lines.append(f"| {clients} | {metric} | {report._number(a or float('nan'))} | "
                         f"{report._number(b or float('nan'))} ({ratio:.2f}×) |")  # fmt: skip
        for name in ("haproxy", "node a", "node b", "redis", "load generator"):
            cells = [
                report._number(entry["cpu"][name]) if name in entry["cpu"] else "—" for entry in (one, two)
            ]
            lines.append(f"| {clients} | CPU % {name} | {cells[0]} | {cells[1]} |")
        lines.append(f"| {clients} | errors + corrupt | {one['bad']} | {two['bad']} |")
    lines += ["", f"Load average (1 min) after each measurement: {meta['loads']}.", "",
              f"Reproduce: `{meta['command']}` ({meta['duration_s']:.0f} s)"]  # fmt: skip
    return "\n".join(lines) + "\n"


def summarize(measurements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in measurements:
        groups.setdefault(f"{entry['clients']}|{entry['nodes']}", []).append(entry["result"])
    summary = {}
    for key, results in groups.items():
        names = {name for r in results for name in r.get("metrics", {})}
        parts = {name for r in results for name in r.get("cpu_pct", {})}
        cpu = {name: statistics.median(r["cpu_pct"][name] for r in results if name in r.get("cpu_pct", {}))
               for name in parts}  # fmt: skip
        cpu["load generator"] = statistics.median(r.get("loadgen_cpu_pct", 0.0) for r in results)
        summary[key] = {
            "metrics": {
                n: statistics.median(r["metrics"][n] for r in results if n in r.get("metrics", {}))
                for n in names
            },
            "cpu": cpu,
            "bad": sum(r.get("error_count", 0) + r.get("corrupt", 0) for r in results),
            "runs": len(results),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", default="100,500", help="comma-separated client counts")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--sources", type=int, default=100, help="client addresses (127.1.0.x)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for what, found in (("haproxy", haproxy_binary()), ("redis-server", redis_binary())):
        if found is None:
            print(f"cluster: {what} is not installed", file=sys.stderr)
            return 2
    client_counts = [int(n) for n in args.clients.split(",")]
    started = time.time()
    workdir = Path(
        tempfile.mkdtemp(prefix="aioftp_lite_cluster_", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    )
    measurements: list[dict[str, Any]] = []
    redis = RedisServer(workdir / "redis")
    try:
        root = workdir / "root"
        (root / UPLOAD_DIR).mkdir(parents=True)
        for name, size in root_files(payload.BLOCK_SIZE).items():
            payload.write_file(root / name, size)
        config = servers.write_ours_config(workdir)
        redis.start()
        assert redis.process is not None
        for clients in client_counts:
            for run in range(args.runs):
                for size in (1, 2) if run % 2 == 0 else (2, 1):
                    settle(20000, 65.0)
                    cluster = Cluster(workdir, root, size, redis, config)
                    try:
                        cluster.start()
                        result = measure(cluster, clients, args.repeat, args.sources, redis.process.pid)
                    finally:
                        cluster.stop()
                    measurements.append({"clients": clients, "nodes": size, "run": run, "result": result})
                    shown = ", ".join(f"{k} {v:.1f}" for k, v in result.get("metrics", {}).items())
                    print(f"[{time.time() - started:6.1f}s] many_small {clients} clients, {size} node(s), "
                          f"run {run + 1}: {shown}; CPU {result.get('cpu_pct')}; errors {result.get('error_count')}",
                          flush=True)  # fmt: skip
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarize(measurements)
    info = report.machine_info(
        ["aioftp_lite"], argv if argv is not None else sys.argv[1:], args.runs, False, []
    )
    meta = {**info, "clients": client_counts, "repeat": args.repeat, "sources": args.sources, "runs": args.runs,
            "duration_s": time.time() - started, "command": "python -m benchmarks.cluster " + " ".join(
                argv if argv is not None else sys.argv[1:]),
            "haproxy": _version([haproxy_binary() or "haproxy", "-v"]), "redis": _version([redis_binary() or "", "-v"]),
            "loads": ", ".join(str(m["result"].get("loadavg_1m")) for m in measurements)}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(meta, summary)
    (args.out / "latest.md").write_text(table)
    (args.out / "latest.json").write_text(json.dumps({"meta": meta, "summary": summary, "measurements": measurements},
                                                     indent=1, default=str))  # fmt: skip
    print(table)
    return 1 if any(entry["bad"] for entry in summary.values()) else 0


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)
    except OSError:
        return "unknown"
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0][:60] if first else "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
