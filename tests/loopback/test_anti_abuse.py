"""Anti-abuse (issue 4 point 4): no FTP bounce, no passive port theft.

The control connection comes from 127.0.0.1; a "third host" is played by sockets bound
to 127.0.0.2 (the whole 127/8 is loopback on Linux). ftplib and plain sockets run in a
worker thread while the server task runs on the test's event loop.
"""

from __future__ import annotations

import ftplib
import hashlib
import os
import re
import select
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aioftp_lite import Server
from tests.support.threads import in_thread

USER, PASSWORD = "alice", "pw"
TIMEOUT = 10.0
THIRD_HOST = "127.0.0.2"
T = TypeVar("T")


def serve(root: Path, **settings: Any) -> Server:
    return Server(root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}, **settings)


def login(port: int) -> ftplib.FTP:
    client = ftplib.FTP(timeout=TIMEOUT)
    client.connect("127.0.0.1", port)
    client.login(USER, PASSWORD)
    return client


def reply_code(client: ftplib.FTP, line: str) -> int:
    try:
        return int(client.sendcmd(line)[:3])
    except ftplib.Error as error:
        return int(str(error)[:3])


def final_code(client: ftplib.FTP, line: str) -> int:
    """The last reply to a command that may first answer 150 (a transfer)."""
    code = reply_code(client, line)
    if 100 <= code < 200:
        try:
            return int(client.getresp()[:3])
        except ftplib.Error as error:
            return int(str(error)[:3])
    return code


def port_argument(host: str, port: int) -> str:
    return ",".join([*host.split("."), str(port // 256), str(port % 256)])


def was_contacted(listener: socket.socket, wait: float) -> bool:
    readable, _, _ = select.select([listener], [], [], wait)
    return bool(readable)


# --- active mode: no bounce -------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(lambda port: f"PORT {port_argument(THIRD_HOST, port)}", id="PORT-other-host"),
        pytest.param(lambda port: f"EPRT |1|{THIRD_HOST}|{port}|", id="EPRT-other-host"),
        pytest.param(lambda _port: "EPRT |2|::1|5000|", id="EPRT-ipv6-other-host"),
        pytest.param(lambda _port: f"PORT {port_argument('127.0.0.1', 21)}", id="PORT-privileged"),
        pytest.param(lambda _port: "EPRT |1|127.0.0.1|1023|", id="EPRT-privileged"),
    ],
)  # fmt: skip
async def test_active_mode_to_another_host_or_a_privileged_port_is_refused(
    root: Path, command: Callable[[int], str]
) -> None:
    (root / "file.txt").write_bytes(b"not for a third host\n")
    with socket.create_server((THIRD_HOST, 0)) as third_host:
        line = command(third_host.getsockname()[1])

        def session(port: int) -> tuple[int, int]:
            client = login(port)
            try:
                refused = reply_code(client, line)
                # Nothing was set up: a transfer now has no data connection to use.
                transfer = final_code(client, "RETR file.txt")
                return refused, transfer
            finally:
                client.close()

        async with serve(root) as server:
            refused, transfer = await in_thread(lambda: session(server.port))
        assert refused == 501
        assert transfer == 425
        assert not was_contacted(third_host, 0.2)


async def test_active_mode_to_the_clients_own_address_works(root: Path) -> None:
    content = os.urandom(300_000)
    (root / "file.bin").write_bytes(content)

    def session(port: int) -> tuple[int, bytes]:
        client = login(port)
        try:
            boundary = reply_code(client, "EPRT |1|127.0.0.1|1024|")  # the lowest allowed port
            client.set_pasv(False)  # ftplib sends PORT with its own address and a free port
            received = bytearray()
            client.retrbinary("RETR file.bin", received.extend)
            client.quit()
            return boundary, bytes(received)
        finally:
            client.close()

    async with serve(root) as server:
        boundary, received = await in_thread(lambda: session(server.port))
    assert boundary == 200
    assert hashlib.sha256(received).digest() == hashlib.sha256(content).digest()


# --- passive mode: no port theft --------------------------------------------------------
def passive_port(client: ftplib.FTP) -> int:
    reply = client.sendcmd("PASV")
    numbers = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", reply)
    assert numbers, reply
    return int(numbers.group(5)) * 256 + int(numbers.group(6))


def thief_connection(port: int) -> socket.socket:
    thief = socket.socket()
    thief.settimeout(TIMEOUT)
    thief.bind((THIRD_HOST, 0))
    thief.connect(("127.0.0.1", port))
    return thief


def received_by_thief(thief: socket.socket) -> bytes:
    """All the thief gets before the server drops it (b"" when dropped at once)."""
    data = bytearray()
    try:
        for _ in range(1000):  # bounded; the server closes the connection
            chunk = thief.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return bytes(data)


async def test_passive_connection_from_another_host_is_dropped(root: Path) -> None:
    content = os.urandom(500_000)
    (root / "secret.bin").write_bytes(content)

    def session(port: int) -> tuple[bytes, bytes, str]:
        client = login(port)
        try:
            client.voidcmd("TYPE I")
            data_port = passive_port(client)
            # The thief is first in the queue; the real client connects after it.
            with (
                thief_connection(data_port) as thief,
                socket.create_connection(("127.0.0.1", data_port), timeout=TIMEOUT) as real,
            ):
                assert client.sendcmd("RETR secret.bin").startswith("150")
                stolen = received_by_thief(thief)
                received = bytearray()
                while chunk := real.recv(65536):
                    received += chunk
            done = client.voidresp()
            client.quit()
            return stolen, bytes(received), done
        finally:
            client.close()

    async with serve(root) as server:
        stolen, received, done = await in_thread(lambda: session(server.port))
    assert stolen == b""
    assert hashlib.sha256(received).digest() == hashlib.sha256(content).digest()
    assert done.startswith("226")


async def test_only_a_thief_connecting_means_425_and_no_data(root: Path) -> None:
    (root / "secret.bin").write_bytes(b"secret\n" * 1000)

    def session(port: int) -> tuple[bytes, int, int]:
        client = login(port)
        try:
            data_port = passive_port(client)
            with thief_connection(data_port) as thief:
                opened = int(client.sendcmd("RETR secret.bin")[:3])
                stolen = received_by_thief(thief)
                try:
                    client.voidresp()
                    final = 226
                except ftplib.Error as error:
                    final = int(str(error)[:3])
            return stolen, opened, final
        finally:
            client.close()

    async with serve(root, data_timeout=0.5) as server:
        stolen, opened, final = await in_thread(lambda: session(server.port))
    assert stolen == b""
    assert (opened, final) == (150, 425)


# --- logins do not tell whether a user exists -------------------------------------------
def failed_login_seconds(client: ftplib.FTP, user: str) -> float:
    started = time.perf_counter()
    assert client.sendcmd(f"USER {user}").startswith("331")
    assert reply_code(client, "PASS wrong password") == 530
    return time.perf_counter() - started


async def test_missing_user_and_wrong_password_take_about_the_same_time(root: Path) -> None:
    def measure(port: int) -> tuple[list[float], list[float]]:
        client = ftplib.FTP(timeout=TIMEOUT)
        client.connect("127.0.0.1", port)
        try:
            missing, existing = [], []
            for _ in range(5):
                missing.append(failed_login_seconds(client, "nobody-here"))
                existing.append(failed_login_seconds(client, USER))
            return missing, existing
        finally:
            client.close()

    # No deliberate delay and no ban: what is compared is the password check itself.
    async with serve(root, login_failure_delay=0.0, max_login_failures=0) as server:
        missing, existing = await in_thread(lambda: measure(server.port))
    print(f"median failed login: missing user {statistics.median(missing) * 1000:.1f} ms, "
          f"wrong password {statistics.median(existing) * 1000:.1f} ms")  # fmt: skip
    assert 1 / 3 < statistics.median(missing) / statistics.median(existing) < 3
