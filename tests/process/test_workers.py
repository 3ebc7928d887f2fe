"""`--workers N`: processes share the port, each with its own passive slice; the parent
restarts a dead worker, forwards SIGTERM and reaps every child."""

from __future__ import annotations

import ftplib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from aioftp_lite.protocol.addresses import parse_pasv_reply_text


def _start(root: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "aioftp_lite", "serve", "--root", str(root), "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r":(\d+) with \d+ workers", line)
    assert match, f"no address in {line!r}"
    return process, int(match[1])


def _workers(parent: subprocess.Popen[str], count: int, timeout: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(parent.pid).children()
        if len(children) == count:
            return children
        time.sleep(0.05)
    raise AssertionError(f"expected {count} workers, saw {psutil.Process(parent.pid).children()}")


def _passive_port(port: int) -> int:
    deadline = time.monotonic() + 10
    while True:  # a restarted worker may still be starting: retry briefly
        try:
            client = ftplib.FTP(timeout=5)
            client.connect("127.0.0.1", port)
            client.login()
            passive = parse_pasv_reply_text(client.sendcmd("PASV"))[1]
            client.quit()
            return passive
        except (OSError, EOFError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.timeout(60)
def test_workers_share_the_port_restart_and_stop(tmp_path: Path) -> None:
    process, port = _start(tmp_path, "--workers", "2", "--passive-ports", "51000-51019")
    try:
        first, second = _workers(process, 2)
        # Every passive port handed out comes from one of the two disjoint slices.
        seen = {_passive_port(port) for _ in range(12)}
        assert seen <= set(range(51000, 51020))
        # A worker that dies is replaced, and clients keep being served.
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while {c.pid for c in psutil.Process(process.pid).children()} in (
            {second.pid},
            {first.pid, second.pid},
        ):
            assert time.monotonic() < deadline, "the dead worker was not restarted"
            time.sleep(0.05)
        replacement = {c.pid for c in _workers(process, 2)} - {second.pid}
        assert replacement and first.pid not in replacement
        assert 51000 <= _passive_port(port) <= 51019
        children = _workers(process, 2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        for child in children:  # reaped by the parent: gone, not zombies
            assert not psutil.pid_exists(child.pid) or child.status() != psutil.STATUS_ZOMBIE
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.timeout(60)
def test_workers_end_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no chance to forward anything: the workers must
    still go (they ask the kernel for SIGTERM when their parent dies)."""
    process, port = _start(tmp_path, "--workers", "2")
    workers: list[psutil.Process] = []
    try:
        workers = _workers(process, 2)
        assert _passive_port(port) > 0
        process.kill()
        process.wait(timeout=10)
        _gone, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, f"workers outlived their supervisor: {alive}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        for worker in workers:  # only the processes this test started, by their ids
            if worker.is_running():
                worker.kill()
