"""What a measurement records: a mergeable tally, the timed phase, server CPU and memory.

`Tally` holds one load-generator process's raw results; processes merge theirs.
`measured` marks the timed phase; the server's CPU and memory come from psutil over
the server's whole process tree, so a forking server (vsftpd) is counted fully.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from dataclasses import dataclass, field
from typing import Any

from .wire import FTPFailure


@dataclass
class Tally:
    """Raw results of one process; `merge` adds another process's."""

    ops: int = 0
    bytes: int = 0
    corrupt: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)
    start: float = float("inf")
    end: float = float("-inf")
    cpu: float = 0.0  # seconds of load-generator CPU during the measured phase
    extra: dict[str, Any] = field(default_factory=dict)

    def error(self, failure: BaseException) -> None:
        kind = failure.kind if isinstance(failure, FTPFailure) else type(failure).__name__
        self.errors[kind] += 1

    def merge(self, other: Tally) -> None:
        self.ops += other.ops
        self.bytes += other.bytes
        self.corrupt += other.corrupt
        self.errors.update(other.errors)
        self.latencies.extend(other.latencies)
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)
        self.cpu += other.cpu
        for key, value in other.extra.items():
            if key.endswith("_sum"):
                value = self.extra.get(key, 0) + value
            elif key.endswith("_max"):
                value = max(self.extra.get(key, value), value)
            self.extra[key] = value

    @property
    def elapsed(self) -> float:
        return max(self.end - self.start, 1e-9)


@dataclass
class Context:
    """Where this process stands among the load generator's processes."""

    tally: Tally
    params: dict[str, Any]
    index: int = 0
    procs: int = 1
    barrier: Any = None  # multiprocessing.Barrier when procs > 1
    server_pid: int | None = None

    @property
    def leader(self) -> bool:
        return self.index == 0

    def share(self, total: int) -> int:
        """This process's part of `total` clients."""
        return total // self.procs + (1 if self.index < total % self.procs else 0)

    async def sync(self) -> None:
        if self.barrier is not None:
            await asyncio.to_thread(self.barrier.wait, 300)


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


class measured:
    """`async with measured(ctx):` marks the timed phase: wall clock, our CPU, the server's."""

    def __init__(self, ctx: Context, together: bool = True) -> None:
        self.ctx = ctx
        self.together = together  # False: only this process measures (no barrier)

    async def __aenter__(self) -> None:
        if self.together:
            await self.ctx.sync()
        if self.ctx.leader and self.ctx.server_pid:
            self.ctx.tally.extra["server_cpu_start"] = server_cpu(self.ctx.server_pid)
        self._cpu = own_cpu()
        self.ctx.tally.start = time.monotonic()

    async def __aexit__(self, *exc_info: object) -> None:
        tally = self.ctx.tally
        tally.end = time.monotonic()
        tally.cpu = own_cpu() - self._cpu
        if self.ctx.leader and self.ctx.server_pid:
            tally.extra["server_cpu"] = server_cpu(self.ctx.server_pid) - tally.extra.pop("server_cpu_start")


def _server_tree(pid: int) -> list[Any]:
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def server_cpu(pid: int) -> float:
    """CPU seconds of the server and its children (a forking server's reaped sessions too)."""
    import psutil

    total = 0.0
    for process in _server_tree(pid):
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            pass
    return total


def server_memory(pid: int) -> int:
    """Proportional set size of the server's process tree (RSS where PSS is unknown)."""
    import psutil

    total = 0
    for process in _server_tree(pid):
        try:
            info = process.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return total


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (which may hold spaces): field 4 is [1]."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()


def proc_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its live descendants from /proc (utime + stime, and cutime +
    cstime for their children already reaped: a forking server's finished sessions), without
    psutil. OSError if `pid` is gone."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # ended meanwhile
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending, root = 0.0, [pid], True
    while pending:
        current = pending.pop()
        try:
            fields = _stat_fields(current)  # utime stime cutime cstime: fields 14-17, [11:15] here
        except OSError:
            if root:
                raise
            continue
        root = False
        total += sum(int(value) for value in fields[11:15]) / ticks
        pending.extend(parents.get(current, []))
    return total
