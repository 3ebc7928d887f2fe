"""Limits (issue 4 point 3): connections, timeouts, line length, failed logins, passive
ports, masquerading and bandwidth, each over real sockets on 127.0.0.1.

Most tests drive the server with `Control` (tests/async_control.py), a raw control
connection on the test's event loop: it sees exact replies and when they arrive, and
notices when the server closes the connection. The memory test runs the server as a subprocess so its RSS is
its own. Timing assertions are loose on purpose (lower bounds, wide ratios).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from aioftp_lite import Server
from tests.support.control import REPLY_TIMEOUT, Clients

USER, PASSWORD = "alice", "right password"
KiB, MiB = 1024, 1024 * 1024
_PASV_NUMBERS = re.compile(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
_EPSV_PORT = re.compile(r"\(\|\|\|(\d+)\|\)")


def serve(root: Path, **settings: Any) -> Server:
    defaults: dict[str, Any] = {"users": {USER: PASSWORD}, "login_failure_delay": 0.0}
    return Server(root=root, host="127.0.0.1", port=0, **{**defaults, **settings})


def pasv_port(text: str) -> int:
    match = _PASV_NUMBERS.search(text)
    assert match, text
    return int(match.group(5)) * 256 + int(match.group(6))


def epsv_port(text: str) -> int:
    match = _EPSV_PORT.search(text)
    assert match, text
    return int(match.group(1))


# --- connections -----------------------------------------------------------------------
async def test_max_connections_refuses_the_extra_client_with_421(root: Path) -> None:
    async with serve(root, max_connections=2) as server, Clients(server.port, (USER, PASSWORD)) as clients:
        (first, code_one), (second, code_two) = [await clients.connect() for _ in range(2)]
        assert code_one == code_two == 220
        extra, code = await clients.connect()
        assert code == 421
        assert await extra.closed_by_server()
        # The first two are still served.
        assert (await first.command("NOOP"))[0] == 200
        # A slot freed by QUIT can be taken again (the server notices the close quickly).
        assert (await second.command("QUIT"))[0] == 221
        assert await second.closed_by_server()
        for _ in range(50):
            _, code = await clients.connect()
            if code == 220:
                break
            await asyncio.sleep(0.05)
        assert code == 220


async def test_max_connections_per_ip_counts_each_address(root: Path) -> None:
    async with (
        serve(root, max_connections_per_ip=2) as server,
        Clients(server.port, (USER, PASSWORD)) as clients,
    ):
        for _ in range(2):
            assert (await clients.connect())[1] == 220
        extra, code = await clients.connect()
        assert code == 421
        assert await extra.closed_by_server()
        # Another address has its own quota.
        other, code = await clients.connect("127.0.0.2")
        assert code == 220
        await other.login()


# --- timeouts --------------------------------------------------------------------------
async def test_idle_timeout_sends_421_then_closes(root: Path) -> None:
    async with serve(root, idle_timeout=0.5) as server, Clients(server.port, (USER, PASSWORD)) as clients:
        control, _ = await clients.connect()
        # Commands keep the session alive past the timeout...
        for _ in range(4):
            await asyncio.sleep(0.25)
            assert (await control.command("NOOP"))[0] == 200
        # ...silence ends it.
        started = time.monotonic()
        code, text = await control.reply(timeout=5)
        waited = time.monotonic() - started
        assert code == 421, text
        assert 0.3 <= waited < 3.0
        assert await control.closed_by_server()


async def test_data_timeout_gives_425_when_no_data_connection_arrives(root: Path) -> None:
    (root / "file.bin").write_bytes(b"x" * 1000)
    async with serve(root, data_timeout=0.5) as server, Clients(server.port, (USER, PASSWORD)) as clients:
        control, _ = await clients.connect()
        await control.login()
        assert (await control.command("PASV"))[0] == 227
        started = time.monotonic()
        assert (await control.command("RETR file.bin"))[0] == 150
        code, text = await control.reply(timeout=5)
        waited = time.monotonic() - started
        assert code == 425, text
        assert 0.4 <= waited < 3.0
        # The session goes on.
        assert (await control.command("NOOP"))[0] == 200


# --- over-long command lines -----------------------------------------------------------
async def test_a_1mib_line_without_newline_gets_500_and_the_session_stays_usable(root: Path) -> None:
    async with serve(root) as server, Clients(server.port, (USER, PASSWORD)) as clients:
        control, _ = await clients.connect()
        await control.login()
        await control.send(b"STOR " + b"A" * MiB)  # no newline: the server must not wait for one
        code, text = await control.reply(timeout=10)
        assert code == 500, text
        # The rest of the long line (up to its newline) is dropped without another reply.
        await control.send(b"BBBB\r\n")
        assert (await control.command("NOOP"))[0] == 200
        assert (await control.command("PWD"))[0] == 257
        assert not (root / ("A" * 100)).exists()


def _rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


async def _start_server_process(root: Path) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aioftp_lite", "serve", "--root", str(root), "--port", "0",
        "--user", f"{USER}:{PASSWORD}", "--log-level", "WARNING",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    match = re.search(rb"ftp://127\.0\.0\.1:(\d+)", line)
    assert match, line
    return process, int(match.group(1))


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_memory_does_not_grow_with_an_endless_command_line(root: Path) -> None:
    """32 MiB without a newline: a server that buffered the line would grow by 32 MiB."""
    process, port = await _start_server_process(root)
    try:
        async with Clients(port, (USER, PASSWORD)) as clients:
            control, _ = await clients.connect()
            await control.login()
            assert (await control.command("NOOP"))[0] == 200
            baseline = _rss(process.pid)
            block = b"Z" * MiB
            for _ in range(32):
                await control.send(block)
            code, text = await control.reply(timeout=10)
            assert code == 500, text
            await control.send(b"\r\n")
            assert (await control.command("NOOP", timeout=20))[0] == 200  # all 32 MiB were read
            growth = _rss(process.pid) - baseline
            assert growth < 8 * MiB, f"server RSS grew by {growth / MiB:.1f} MiB"
    finally:
        await _stop(process)


# --- failed logins ---------------------------------------------------------------------
async def test_failed_login_answers_after_the_configured_delay(root: Path) -> None:
    async with (
        serve(root, login_failure_delay=0.6, max_login_failures=0) as server,
        Clients(server.port, (USER, PASSWORD)) as clients,
    ):
        control, _ = await clients.connect()
        assert (await control.command(f"USER {USER}"))[0] == 331
        started = time.monotonic()
        code, _ = await control.command("PASS wrong")
        failed_after = time.monotonic() - started
        assert code == 530
        assert failed_after >= 0.55
        # A right password is not delayed.
        started = time.monotonic()
        await control.login()
        assert time.monotonic() - started < failed_after


async def test_repeated_failures_ban_the_address_until_the_ban_expires(root: Path) -> None:
    # Loopback is safelisted by default (never banned): this test empties the safelist.
    settings = {"max_login_failures": 3, "login_failure_window": 30.0, "ban_seconds": 1.5, "ban_safelist": ()}
    async with (
        serve(root, login_failure_delay=0.01, **settings) as server,
        Clients(server.port, (USER, PASSWORD)) as clients,
    ):
        control, _ = await clients.connect()
        earlier, _ = await clients.connect()  # opened before the ban
        for _attempt in range(3):
            assert (await control.command(f"USER {USER}"))[0] == 331
            code, text = await control.command("PASS wrong")
            assert code == 530, text  # every wrong password, the one that bans too
        banned_at = time.monotonic()
        # A banned address cannot log in, not even over a connection opened earlier.
        assert (await earlier.command(f"USER {USER}"))[0] == 331
        assert (await earlier.command(f"PASS {PASSWORD}"))[0] == 421
        assert await earlier.closed_by_server()
        # While banned: 421 on connect, and the connection is closed.
        again, code = await clients.connect()
        assert code == 421
        assert await again.closed_by_server()
        # Another address is not affected.
        assert (await clients.connect("127.0.0.2"))[1] == 220
        # The ban expires.
        await asyncio.sleep(max(0.0, 1.6 - (time.monotonic() - banned_at)))
        after, code = await clients.connect()
        assert code == 220
        await after.login()


# --- passive ports and NAT -------------------------------------------------------------
def free_port_range(size: int) -> tuple[int, int]:
    """`size` consecutive ports that are free right now (bounded search)."""
    for _ in range(50):
        low = int.from_bytes(os.urandom(2), "big") % 20000 + 20000
        sockets: list[socket.socket] = []
        try:
            for port in range(low, low + size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return low, low + size - 1
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no free port range found")


async def test_passive_ports_stay_in_the_range_and_exhaustion_gives_425(root: Path) -> None:
    low, high = free_port_range(2)
    async with (
        serve(root, passive_ports=(low, high)) as server,
        Clients(server.port, (USER, PASSWORD)) as clients,
    ):
        first, second, third = [(await clients.connect())[0] for _ in range(3)]
        for control in (first, second, third):
            await control.login()
        code, text = await first.command("PASV")
        assert code == 227
        port_one = pasv_port(text)
        code, text = await second.command("EPSV")
        assert code == 229
        port_two = epsv_port(text)
        assert {port_one, port_two} == {low, high}  # in the range, and different
        # Both listeners are held: the range is used up.
        assert (await third.command("PASV"))[0] == 425
        assert (await third.command("EPSV"))[0] == 425
        # A session's new PASV replaces its own listener, so it gets a port again.
        code, text = await first.command("PASV")
        assert code == 227 and low <= pasv_port(text) <= high


async def test_masquerade_address_is_announced_in_pasv(root: Path) -> None:
    (root / "small.txt").write_bytes(b"hello\r\n")
    async with (
        serve(root, masquerade_address="203.0.113.7") as server,
        Clients(server.port, (USER, PASSWORD)) as clients,
    ):
        control, _ = await clients.connect()
        await control.login()
        code, text = await control.command("PASV")
        assert code == 227
        assert "203,0,113,7," in text, text
        # The listener itself is local: connecting to 127.0.0.1 on that port gets the data.
        data_reader, data_writer = await asyncio.open_connection("127.0.0.1", pasv_port(text))
        assert (await control.command("TYPE I"))[0] == 200
        assert (await control.command("RETR small.txt"))[0] == 150
        assert await asyncio.wait_for(data_reader.read(), REPLY_TIMEOUT) == b"hello\r\n"
        data_writer.close()
        assert (await control.reply())[0] == 226


# --- bandwidth -------------------------------------------------------------------------
async def _timed_download(port: int, name: str) -> tuple[float, str]:
    async with Clients(port, (USER, PASSWORD)) as clients:
        control, _ = await clients.connect()
        await control.login()
        assert (await control.command("TYPE I"))[0] == 200
        code, text = await control.command("EPSV")
        assert code == 229
        data_reader, data_writer = await asyncio.open_connection("127.0.0.1", epsv_port(text))
        started = time.monotonic()
        assert (await control.command(f"RETR {name}"))[0] == 150
        data = await asyncio.wait_for(data_reader.read(), 20)
        elapsed = time.monotonic() - started
        data_writer.close()
        assert (await control.reply(timeout=20))[0] == 226
    return elapsed, hashlib.sha256(data).hexdigest()


async def test_session_rate_limit_slows_a_download(root: Path) -> None:
    content = os.urandom(MiB)
    (root / "one.bin").write_bytes(content)
    async with serve(root, max_session_rate=512 * KiB) as server:
        elapsed, digest = await _timed_download(server.port, "one.bin")
    assert digest == hashlib.sha256(content).hexdigest()
    print(f"1 MiB at 512 KiB/s per session: {elapsed:.2f} s")
    assert elapsed >= 1.5


async def test_total_rate_limit_is_shared_by_all_sessions(root: Path) -> None:
    content = os.urandom(512 * KiB)
    (root / "half.bin").write_bytes(content)
    async with serve(root, max_total_rate=512 * KiB) as server:
        started = time.monotonic()
        results = await asyncio.gather(*(_timed_download(server.port, "half.bin") for _ in range(2)))
        elapsed = time.monotonic() - started
    assert all(digest == hashlib.sha256(content).hexdigest() for _, digest in results)
    print(f"2 x 512 KiB at 512 KiB/s in total: {elapsed:.2f} s")
    assert elapsed >= 1.5
