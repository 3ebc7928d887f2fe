"""Issue 12 point 11: the connection limit follows the open-file limit, and running out of
descriptors anyway pauses accepting, quietly, until sessions end.

The server runs as a process whose RLIMIT_NOFILE is lowered before it starts
(preexec_fn), on asyncio's loop and on uvloop; the clients are raw sockets.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import socket
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from aioftp_lite.server.descriptors import PER_SESSION, RESERVE
from tests.support.control import RawControl, receive_all
from tests.support.processes import ServerProcess


def _limit_files(soft: int, hard: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _loops() -> list[str]:
    try:
        import uvloop  # noqa: F401
    except ImportError:  # uvloop is in the test extra: CI has it
        return ["asyncio"]
    return ["asyncio", "uvloop"]


def _round_trip(port: int) -> None:
    """A new client is served in full: login, upload, download, checksum."""
    control = RawControl(port)
    try:
        control.login()
        assert control.command("TYPE I").code == 200
        payload = os.urandom(300_000)
        data = control.open_epsv()
        assert control.command("STOR back.bin").code == 150
        data.sendall(payload)
        data.close()
        assert control.read_reply().code == 226
        data = control.open_epsv()
        assert control.command("RETR back.bin").code == 150
        received = receive_all(data)
        data.close()
        assert control.read_reply().code == 226
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    finally:
        control.close()


def _greeted(sock: socket.socket) -> bool:
    sock.settimeout(0.01)
    try:
        return sock.recv(100).startswith(b"220")
    except OSError:
        return False


@pytest.mark.parametrize("loop", _loops())
def test_running_out_of_descriptors_pauses_accepting_and_recovers(tmp_path: Path, loop: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f.bin").write_bytes(b"x" * 1000)
    server = ServerProcess(root, tmp_path / "server.log", "--max-connections", "100000", "--event-loop", loop)
    server.start(preexec_fn=_limit_files(64, 64))
    try:
        clients: list[socket.socket] = []
        try:
            # More clients than descriptors: the first ones get sessions, the rest wait.
            for _ in range(120):
                try:
                    clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=3))
                except OSError:
                    break  # the listen backlog is full: enough
            time.sleep(0.5)
            process = psutil.Process(server.pid)
            assert process.num_fds() >= 60, "the test did not use up the server's descriptors"
            cpu_before, wall_before = sum(process.cpu_times()[:2]), time.monotonic()
            time.sleep(1.5)
            busy = (sum(process.cpu_times()[:2]) - cpu_before) / (time.monotonic() - wall_before)
            print(f"\n{len(clients)} clients, server CPU while out of descriptors: {busy:.0%}")
            assert server.alive()
            assert busy < 0.5, f"the server spins while out of descriptors ({busy:.0%} CPU)"

            # A session that needs a descriptor of its own gets a clear reply, not a crash.
            session = next(sock for sock in clients if _greeted(sock))
            session.settimeout(10)
            for line, expected in ((b"USER anonymous", b"331"), (b"PASS x", b"230")):
                session.sendall(line + b"\r\n")
                assert session.recv(1000).startswith(expected)
            session.sendall(b"EPSV\r\n")
            reply = session.recv(1000)
            assert reply[:3] in (b"425", b"451") and b"out of resources" in reply, reply
            session.sendall(b"RETR f.bin\r\n")
            reply = session.recv(1000)
            # The file cannot be opened (451, out of resources), or there is no data connection (425).
            assert reply[:3] in (b"425", b"451"), reply
            assert server.alive()
        finally:
            for sock in clients:
                sock.close()
        # Once the clients have left, a new one is served in full.
        deadline = time.monotonic() + 15
        while True:
            try:
                _round_trip(server.port)
                break
            except (OSError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert server.alive()
    finally:
        server.kill()  # on failure too: a test ends the processes it started
    log = server.log_text()
    assert "Traceback" not in log, log[-3000:]
    if loop == "asyncio":  # uvloop closes the waiting connections itself, without a word
        assert len(re.findall("out of resources", log)) <= 3, log[-3000:]


def test_without_max_connections_the_limit_follows_the_open_file_limit(tmp_path: Path) -> None:
    """Soft limit 200, hard 256: raised to 256 at start, so (256 - RESERVE) / PER_SESSION
    sessions; the next client gets 421 at once instead of waiting for a descriptor."""
    root = tmp_path / "root"
    root.mkdir()
    server = ServerProcess(root, tmp_path / "server.log")
    server.start(preexec_fn=_limit_files(200, 256))
    expected = (256 - RESERVE) // PER_SESSION
    clients: list[RawControl] = []
    try:
        assert f"connection limit {expected} (from 256 open files" in server.log_text(), server.log_text()
        assert psutil.Process(server.pid).rlimit(psutil.RLIMIT_NOFILE) == (256, 256)
        for _ in range(expected):
            client = RawControl(server.port)
            assert client.greeting.code == 220, client.greeting
            clients.append(client)
        extra = RawControl(server.port)
        assert extra.greeting.code == 421 and "Too many connections" in extra.greeting.text, extra.greeting
        extra.close()
        clients.pop().close()
        time.sleep(0.3)
        _round_trip(server.port)  # a slot is free again
    finally:
        for client in clients:
            client.close()
        server.kill()
