"""A throw-away redis-server (Debian's package) on a free port of 127.0.0.1, nothing saved to
disk, stopped by its PID: the shared state of the cluster tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from .processes import terminate

READY_TIMEOUT = 10.0


def redis_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (
            str(path)
            for path in (Path("/usr/bin/redis-server"), Path("/usr/sbin/redis-server"))
            if path.exists()
        ),
        None,
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class PortTaken(RuntimeError):
    pass


class RedisServer:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self._port_chosen = port is None  # ours to change if another socket took it first
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts: int = 5) -> None:
        """Start (again, on the same port) and wait until it answers PING. A port probed free
        can be taken before redis binds it (a connection's ephemeral port comes from the same
        range): on the first start, a port we chose is then chosen again."""
        for attempt in range(attempts):
            try:
                self._start_once()
                return
            except PortTaken:
                if not self._port_chosen or attempt == attempts - 1:
                    raise
                self.port = free_port()

    def _start_once(self) -> None:
        binary = redis_binary()
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--daemonize", "no", "--dir", str(self.data_dir), "--protected-mode", "yes"]  # fmt: skip
        log_path = self.data_dir / "redis.log"
        log_start = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                with open(log_path, "rb") as log:
                    log.seek(log_start)
                    if b"Address already in use" in log.read():
                        raise PortTaken(f"port {self.port} was taken before redis-server bound it")
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: see {self.data_dir}")
            if self.ping():
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"redis-server not ready after {READY_TIMEOUT:.0f} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM to our process (SIGKILL if it lingers)."""
        terminate(self.process)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
