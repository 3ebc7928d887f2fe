"""`--workers N`: N server processes sharing one listening port (SO_REUSEPORT).

Each worker is a full `aioftp-lite serve` process with its own event loop; the
kernel spreads new connections over their listening sockets. The parent only
supervises: it reserves the port (so `--port 0` works), gives each worker its own
slice of the passive port range (so two workers never hand out the same port),
forwards SIGTERM/SIGINT (and SIGHUP: each worker reloads), reaps its children and restarts a worker that died.
With `--metrics` it serves /metrics itself: the workers' sum (metrics.py).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from .config import ServerConfig

log = logging.getLogger("aioftp_lite.workers")

RESTART_DELAY = 0.5  # seconds before restarting a worker that died, so a crash loop cannot spin


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_supervisor() -> None:
    """In a worker: get SIGTERM when the supervisor dies, even by SIGKILL (Linux).

    Without this, killing the supervisor would leave its workers serving forever.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return  # not Linux: the supervisor's own SIGTERM forwarding still applies
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) the shared port with SO_REUSEPORT; workers bind it again."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def split_port_range(port_range: tuple[int, int] | None, workers: int) -> list[tuple[int, int] | None]:
    """Disjoint slices of the passive range, one per worker."""
    if port_range is None:
        return [None] * workers
    low, high = port_range
    size = (high - low + 1) // workers
    if size < 1:
        raise ValueError(f"the passive port range {low}-{high} is smaller than the number of workers")
    return [(low + i * size, low + (i + 1) * size - 1) for i in range(workers)]


class Supervisor:
    def __init__(self, config: ServerConfig, worker_argv: Sequence[str], workers: int) -> None:
        self.config = config
        self._argv = list(worker_argv)
        self._count = workers
        self._stopping = False
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._metrics_dir: str | None = None

    def _command(self, index: int, port: int, passive: tuple[int, int] | None) -> list[str]:
        command = [sys.executable, "-m", "aioftp_lite", "serve", *self._argv, "--port", str(port),
                   "--reuse-port", "--worker-index", str(index)]  # fmt: skip
        if passive is not None:
            command += ["--passive-ports", f"{passive[0]}-{passive[1]}"]
        return command

    async def run(self) -> int:
        reserved = reserve_port(self.config.host, self.config.port)
        port = reserved.getsockname()[1]
        slices = split_port_range(self.config.passive_ports, self._count)
        endpoint = self._serve_metrics()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, self._stop)
        loop.add_signal_handler(signal.SIGHUP, self._forward, signal.SIGHUP)
        shown = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        print(f"aioftp-lite serving {self.config.root} on {self.config.url_scheme}://{shown}:{port} "
              f"with {self._count} workers ({self.config.access_summary()})", flush=True)  # fmt: skip
        try:
            keepers = [
                asyncio.create_task(self._keep_running(i, port, slices[i])) for i in range(self._count)
            ]
            await asyncio.gather(*keepers)
        finally:
            reserved.close()
            if endpoint is not None:
                endpoint.close()
            if self._metrics_dir is not None:
                shutil.rmtree(self._metrics_dir, ignore_errors=True)
        return 0

    def _serve_metrics(self) -> Any:
        """With --metrics: a private folder for the workers' values (they inherit its name in
        PROMETHEUS_MULTIPROC_DIR), and the endpoint that sums them."""
        if self.config.metrics_listen is None:
            return None
        self._metrics_dir = tempfile.mkdtemp(prefix="aioftp-lite-metrics-")
        from .metrics import MULTIPROCESS_DIR, Endpoint, multiprocess_registry

        os.environ[MULTIPROCESS_DIR] = self._metrics_dir
        endpoint = Endpoint(multiprocess_registry(), *self.config.metrics_listen)
        log.info("metrics on http://%s:%d/metrics", self.config.metrics_listen[0], endpoint.port)
        return endpoint

    async def _keep_running(self, index: int, port: int, passive: tuple[int, int] | None) -> None:
        while not self._stopping:
            process = await asyncio.create_subprocess_exec(*self._command(index, port, passive))
            self._processes[index] = process
            status = await process.wait()  # reaps the child: no zombies
            if self._metrics_dir is not None:
                from .metrics import worker_died

                worker_died(process.pid)
            if self._stopping:
                return
            log.warning("worker %d (pid %d) exited with status %s; restarting", index, process.pid, status)
            await asyncio.sleep(RESTART_DELAY)

    def _stop(self) -> None:
        self._stopping = True
        self._forward(signal.SIGTERM)

    def _forward(self, signal_number: int) -> None:
        for process in self._processes.values():
            if process.returncode is None:
                process.send_signal(signal_number)
