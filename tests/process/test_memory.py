"""Streaming with bounded memory: 256 MiB down and up through a server subprocess.

The server runs as `python -m aioftp_lite serve` in its own process so that its RSS is
its own. We read its RSS once it is up (the baseline), reset the kernel's peak-RSS mark
(/proc/PID/clear_refs, "5"), move the file down and up with ftplib (streamed, so this
test stays small too) while sampling RSS, and take the larger of the sampled maximum and
the kernel's VmHWM as the peak. The server must grow by less than 64 MiB.
"""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

FILE_SIZE = 256 * 1024 * 1024
CHUNK = 1024 * 1024
GROWTH_LIMIT = 64 * 1024 * 1024
MiB = 1024 * 1024

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def write_big_file(path: Path) -> str:
    """FILE_SIZE bytes of random-looking data written in 1 MiB chunks; returns its sha256."""
    base = bytearray(os.urandom(CHUNK))
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for index in range(FILE_SIZE // CHUNK):
            base[:8] = index.to_bytes(8, "big")  # every chunk differs, so a misplaced chunk shows
            out.write(base)
            digest.update(base)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the highest RSS since start (or since the last reset through clear_refs)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1))


class RssSampler(threading.Thread):
    """Samples a process's RSS every few milliseconds until stopped."""

    def __init__(self, process: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.maximum = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.005):
            try:
                self.maximum = max(self.maximum, self.process.memory_info().rss)
            except psutil.Error:
                return
            self.samples += 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def round_trip(port: int, root: Path) -> str:
    """Download big.bin (hashed on the fly, never kept), upload it back as copy.bin."""
    client = ftplib.FTP(timeout=30)
    client.connect("127.0.0.1", port)
    client.login()  # anonymous: no password hashing in the measured window
    downloaded = hashlib.sha256()
    client.retrbinary("RETR big.bin", downloaded.update, blocksize=CHUNK)
    with (root / "big.bin").open("rb") as source:
        client.storbinary("STOR copy.bin", source, blocksize=CHUNK)
    client.quit()
    return downloaded.hexdigest()


async def test_256_mib_down_and_up_keeps_server_rss_bounded(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    log_path = tmp_path / "server.log"
    try:
        original_sha = await asyncio.to_thread(write_big_file, root / "big.bin")
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "aioftp_lite", "serve", "--root", str(root), "--port", "0",
                "--log-level", "WARNING",
                stdout=asyncio.subprocess.PIPE, stderr=log,
            )  # fmt: skip
        try:
            assert process.stdout is not None
            banner = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
            match = re.search(r"ftp://127\.0\.0\.1:(\d+)", banner)
            assert match, f"no address in {banner!r}; log: {log_path.read_text()!r}"
            port = int(match.group(1))

            server = psutil.Process(process.pid)
            await asyncio.sleep(0.2)  # let start-up settle
            baseline = server.memory_info().rss
            try:
                Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
                hwm_reset = True
            except OSError:
                hwm_reset = False  # then VmHWM includes start-up: a stricter bound
            sampler = RssSampler(server)
            sampler.start()
            started = time.monotonic()
            try:
                downloaded_sha = await asyncio.wait_for(asyncio.to_thread(round_trip, port, root), 50)
            finally:
                sampler.stop()
            elapsed = time.monotonic() - started
            peak = max(sampler.maximum, peak_rss_kib(process.pid) * 1024)

            process.send_signal(signal.SIGTERM)
            exit_status = await asyncio.wait_for(process.wait(), 15)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

        growth = peak - baseline
        print(
            f"\nserver RSS: baseline {baseline / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB, "
            f"growth {growth / MiB:.1f} MiB (limit {GROWTH_LIMIT / MiB:.0f} MiB); "
            f"{2 * FILE_SIZE / MiB:.0f} MiB moved in {elapsed:.1f} s; "
            f"{sampler.samples} samples, VmHWM {'reset after start-up' if hwm_reset else 'since start'}"
        )
        assert downloaded_sha == original_sha
        assert (root / "copy.bin").stat().st_size == FILE_SIZE
        assert await asyncio.to_thread(file_sha256, root / "copy.bin") == original_sha
        assert sampler.samples > 10  # the sampler really watched the transfers
        assert growth < GROWTH_LIMIT
        assert exit_status == 0, log_path.read_text()
    finally:
        # pytest keeps the last few tmp folders: do not leave 512 MiB behind.
        for name in ("big.bin", "copy.bin"):
            (root / name).unlink(missing_ok=True)
