"""PROXY protocol on the control listener (issue 15 point 2): the header's address is the
client's for limits, bans, logs, the PORT/EPRT bounce check and the passive peer check.

The balancer is played by sockets from 127.0.0.1 that send a header naming a client on
another loopback address (127.0.0.7); the whole 127/8 is loopback on Linux.
"""

from __future__ import annotations

import ftplib
import hashlib
import logging
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aioftp_lite import Server
from aioftp_lite.protocol.proxy import encode_v1, encode_v2
from tests.support.clients import accounts_for
from tests.support.threads import in_thread

USER, PASSWORD = "alice", "pw"
ACCOUNTS = accounts_for(USER, PASSWORD)
TIMEOUT = 10.0
CLIENT = "127.0.0.7"  # the client the balancer speaks for
OTHER = "127.0.0.8"
T = TypeVar("T")


def serve(root: Path, **settings: Any) -> Server:
    options: dict[str, Any] = {
        "proxy_protocol": True,
        "proxy_header_timeout": 1.0,
        "login_failure_delay": 0.0,
    }
    options.update(settings)
    return Server(root=root, host="127.0.0.1", port=0, accounts=ACCOUNTS, **options)


class ProxiedFTP(ftplib.FTP):
    """ftplib that sends `header` first on its control connection, as HAProxy does."""

    def __init__(self, header: bytes | None, source: str = "127.0.0.1") -> None:
        super().__init__(timeout=TIMEOUT)
        self.header = header
        self.source = source

    def connect(
        self, host: str = "", port: int = 0, timeout: float = -999, source_address: Any = None
    ) -> str:
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), TIMEOUT, source_address=(self.source, 0))
        if self.header:
            self.sock.sendall(self.header)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def connect(port: int, header: bytes | None, source: str = "127.0.0.1") -> ProxiedFTP:
    client = ProxiedFTP(header, source)
    client.connect("127.0.0.1", port)
    return client


def v2_from(host: str, port: int = 40000) -> bytes:
    return encode_v2((host, port), ("127.0.0.1", 21))


def refused_or_closed(port: int, header: bytes | None, source: str = "127.0.0.1", then: bytes = b"") -> bytes:
    """What the server sends before closing a connection it must refuse."""
    with socket.create_connection(("127.0.0.1", port), TIMEOUT, source_address=(source, 0)) as sock:
        if header:
            sock.sendall(header)
        if then:
            sock.sendall(then)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        return received


def reply_code(client: ftplib.FTP, line: str) -> int:
    try:
        return int(client.sendcmd(line)[:3])
    except ftplib.Error as error:
        return int(str(error)[:3])


def epsv_port(client: ftplib.FTP) -> int:
    match = re.search(r"\(\|\|\|(\d+)\|\)", client.sendcmd("EPSV"))
    assert match
    return int(match.group(1))


@pytest.mark.parametrize("encode", [lambda host: encode_v1((host, 40000), ("127.0.0.1", 21)), v2_from],
                         ids=["v1", "v2"])  # fmt: skip
async def test_header_address_is_logged_and_banned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, encode: Callable[[str], bytes]
) -> None:
    caplog.set_level(logging.INFO, logger="aioftp_lite")
    async with serve(tmp_path, max_login_failures=2, ban_safelist=()) as server:

        def guess_twice() -> None:
            for _ in range(2):
                client = connect(server.port, encode(CLIENT))
                with pytest.raises(ftplib.error_perm, match="530"):
                    client.login(USER, "wrong")
                client.close()

        await in_thread(guess_twice)
        assert f"{CLIENT}:40000 failed login" in caplog.text
        assert f"{CLIENT} banned for" in caplog.text
        session_log = [r.getMessage() for r in caplog.records if r.name == "aioftp_lite.session"]
        assert not [line for line in session_log if "127.0.0.1" in line]  # the balancer's address
        banned = await in_thread(lambda: refused_or_closed(server.port, encode(CLIENT)))
        assert banned.startswith(b"421 Too many failed logins")
        other = await in_thread(lambda: connect(server.port, encode(OTHER)))
        assert other.welcome.startswith("220")
        await in_thread(lambda: other.login(USER, PASSWORD))
        await in_thread(other.quit)


async def test_trusted_sender_without_or_with_a_bad_header_is_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aioftp_lite")
    async with serve(tmp_path) as server:
        # A command instead of a header: closed at once, without a banner.
        assert await in_thread(lambda: refused_or_closed(server.port, None, then=b"USER alice\r\n")) == b""
        assert "no PROXY protocol header from a trusted sender" in caplog.text
        # A malformed header.
        bad = b"PROXY TCP4 10.0.0.300 10.0.0.1 1 2\r\n"
        assert await in_thread(lambda: refused_or_closed(server.port, bad)) == b""
        assert "bad address in PROXY header" in caplog.text
        # Nothing at all: closed after the header timeout.
        assert await in_thread(lambda: refused_or_closed(server.port, None)) == b""
        assert "sent no PROXY header within 1s" in caplog.text
        assert "connected" not in caplog.text  # no session was started for any of them


async def test_untrusted_sender_with_a_header_is_closed_without_one_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aioftp_lite")
    async with serve(tmp_path, proxy_trusted=("127.0.0.9/32",)) as server:
        answer = await in_thread(lambda: refused_or_closed(server.port, v2_from(OTHER), source=CLIENT))
        assert answer.startswith(b"220") and b"230" not in answer  # the banner, then closed
        assert (
            f"{CLIENT}:" in caplog.text
            and "PROXY header from an address not in --proxy-trusted" in caplog.text
        )
        answer = await in_thread(
            lambda: refused_or_closed(server.port, encode_v1((OTHER, 1), ("127.0.0.1", 21)))
        )
        assert b"230" not in answer
        # A client connecting directly, with no header: served under its own address.
        client = await in_thread(lambda: connect(server.port, None, source=CLIENT))
        await in_thread(lambda: client.login(USER, PASSWORD))
        assert await in_thread(client.pwd) == "/"
        await in_thread(client.quit)
        assert f"{CLIENT}:" in caplog.text and f"logged in as {USER}" in caplog.text
        assert OTHER not in caplog.text.replace("PROXY header", "")


async def test_limit_per_address_counts_the_header_address(tmp_path: Path) -> None:
    async with serve(tmp_path, max_connections_per_ip=1, ban_safelist=()) as server:
        first = await in_thread(lambda: connect(server.port, v2_from(CLIENT)))
        assert first.welcome.startswith("220")
        second = await in_thread(lambda: refused_or_closed(server.port, v2_from(CLIENT, 40001)))
        assert second.startswith(b"421 Too many connections from your address")
        other = await in_thread(lambda: connect(server.port, v2_from(OTHER)))
        assert other.welcome.startswith("220")
        for client in (first, other):
            await in_thread(client.quit)


async def test_eprt_is_held_to_the_header_address(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello\n")
    async with serve(tmp_path) as server:
        client = await in_thread(lambda: connect(server.port, v2_from(CLIENT)))
        await in_thread(lambda: client.login(USER, PASSWORD))
        with socket.create_server(("127.0.0.1", 0)) as balancer_side:
            port = balancer_side.getsockname()[1]
            assert await in_thread(lambda: reply_code(client, f"EPRT |1|127.0.0.1|{port}|")) == 501
        with socket.create_server((CLIENT, 0)) as listener:
            port = listener.getsockname()[1]
            assert await in_thread(lambda: reply_code(client, f"EPRT |1|{CLIENT}|{port}|")) == 200
            assert await in_thread(lambda: reply_code(client, "RETR a.txt")) == 150
            data, _ = await in_thread(listener.accept)
            with data:
                assert await in_thread(lambda: data.recv(100)) == b"hello\r\n"  # TYPE A
            assert (await in_thread(client.getresp)).startswith("226")
        await in_thread(client.quit)


async def test_passive_connection_through_the_balancer_carries_the_client_address(tmp_path: Path) -> None:
    payload = os.urandom(300_000)
    (tmp_path / "down.bin").write_bytes(payload)
    # The balancer on 127.0.0.1 only: the client's own address is not trusted to send headers.
    async with serve(tmp_path, data_timeout=1.0, proxy_trusted=("127.0.0.1/32",)) as server:
        client = await in_thread(lambda: connect(server.port, v2_from(CLIENT)))
        await in_thread(lambda: client.login(USER, PASSWORD))
        await in_thread(lambda: client.sendcmd("TYPE I"))

        def download(header: bytes | None, source: str = "127.0.0.1") -> tuple[bytes, str]:
            port = epsv_port(client)
            with socket.create_connection(("127.0.0.1", port), TIMEOUT, source_address=(source, 0)) as data:
                if header:
                    data.sendall(header)
                client.putcmd("RETR down.bin")
                first = client.getresp()
                received = b""
                while chunk := data.recv(65536):
                    received += chunk
            try:
                return received, client.getresp()
            except ftplib.Error as error:
                return received, f"{first} / {error}"

        # Through the balancer, with the client's address: served.
        received, final = await in_thread(lambda: download(v2_from(CLIENT, 40002)))
        assert (
            final.startswith("226") and hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
        )
        # Directly from the client (not a balancer): served too.
        received, final = await in_thread(lambda: download(None, source=CLIENT))
        assert final.startswith("226") and received == payload
        # Through the balancer for another client: dropped, the transfer fails.
        received, final = await in_thread(lambda: download(v2_from(OTHER)))
        assert received == b"" and "425" in final
        # From the balancer without a header: dropped.
        received, final = await in_thread(lambda: download(None))
        assert received == b"" and "425" in final

        def upload() -> str:
            port = epsv_port(client)
            with socket.create_connection(("127.0.0.1", port), TIMEOUT) as data:
                data.sendall(v2_from(CLIENT, 40003) + payload)  # header and data in one segment
                client.putcmd("STOR up.bin")
                client.getresp()
            return client.getresp()

        assert (await in_thread(upload)).startswith("226")
        assert (tmp_path / "up.bin").read_bytes() == payload
        await in_thread(client.quit)
