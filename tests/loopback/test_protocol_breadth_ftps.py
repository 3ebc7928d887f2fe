"""Implicit FTPS (issue 17, point 2): a second port that speaks TLS from the first byte, with
curl's ftps:// and a raw TLS socket; AUTH SSL answered as AUTH TLS and logged; CCC refused."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.control import RawControl, RawReply
from tests.support.threads import in_thread
from tests.support.tls import PASSWORD, USER, Certificates, run_curl, tls_server
from tests.support.tools import CURL


class TlsControl(RawControl):
    """RawControl over a socket that is TLS from its first byte (implicit FTPS)."""

    def __init__(self, port: int, context: ssl.SSLContext, timeout: float = 10.0) -> None:
        self.host, self.timeout, self._buffer = "127.0.0.1", timeout, b""
        plain = socket.create_connection((self.host, port), timeout=timeout)
        self.sock = context.wrap_socket(plain, server_hostname="127.0.0.1")
        self.greeting = self.read_reply()


def _codes(replies: list[RawReply]) -> list[str]:
    return [reply.lines[0] for reply in replies]


async def test_implicit_port_speaks_tls_from_the_first_byte(root: Path, certs: Certificates) -> None:
    (root / "f.txt").write_bytes(b"over implicit TLS")
    async with tls_server(root, certs, implicit_tls_port=0, require_tls=True) as server:
        assert len(server.implicit_tls_addresses) == 1
        implicit_port = int(server.implicit_tls_addresses[0].rsplit(":", 1)[1])
        assert implicit_port != server.port

        def session() -> tuple[str, list[str], str]:
            control = TlsControl(implicit_port, certs.client_context())
            replies = [control.command(line) for line in
                       ("AUTH TLS", f"USER {USER}", f"PASS {PASSWORD}", "PBSZ 0", "PROT P", "CCC", "SIZE f.txt")]  # fmt: skip
            version = control.sock.version() or ""
            control.command("QUIT")
            control.close()
            return control.greeting.lines[0], _codes(replies), version

        greeting, replies, version = await in_thread(session)
    assert greeting == "220 aioftp_lite ready"
    assert replies == [
        "503 Already using TLS", f"331 Password required for {USER}", f"230 User {USER} logged in",
        "200 PBSZ=0", "200 Data connections will be protected",
        "534 CCC refused: the control connection stays encrypted", "213 17",
    ]  # fmt: skip
    assert version.startswith("TLS")


async def test_plain_text_on_the_implicit_port_is_dropped_and_the_port_serves_on(
    root: Path,
    certs: Certificates,
) -> None:
    async with tls_server(root, certs, implicit_tls_port=0) as server:
        implicit_port = int(server.implicit_tls_addresses[0].rsplit(":", 1)[1])

        def session() -> tuple[bytes, str]:
            with socket.create_connection(("127.0.0.1", implicit_port), timeout=10) as plain:
                plain.sendall(b"USER anonymous\r\n")
                try:
                    answer = plain.recv(100)  # not an FTP reply: the handshake fails, the server hangs up
                except ConnectionResetError:
                    answer = b""
            control = TlsControl(implicit_port, certs.client_context())
            reply = control.command("NOOP").lines[0]
            control.close()
            return answer, reply

        answer, reply = await in_thread(session)
    assert not answer.startswith(b"2")
    assert reply == "200 NOOP ok"


async def test_auth_ssl_is_answered_as_auth_tls_and_logged(
    root: Path,
    certs: Certificates,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aioftp_lite.session")
    async with tls_server(root, certs) as server:

        def session() -> tuple[str, str, str]:
            control = RawControl(server.port)
            ccc_before = control.command("CCC").lines[0]
            auth = control.command("AUTH SSL").lines[0]
            control.sock = certs.client_context().wrap_socket(control.sock, server_hostname="127.0.0.1")
            noop = control.command("NOOP").lines[0]
            control.close()
            return ccc_before, auth, noop

        ccc_before, auth, noop = await in_thread(session)
    assert (ccc_before, auth, noop) == (
        "534 CCC refused: the control connection stays encrypted",
        "234 AUTH TLS successful",
        "200 NOOP ok",
    )
    assert any("AUTH SSL: answered as AUTH TLS" in record.getMessage() for record in caplog.records)


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
async def test_curl_ftps_url_against_the_implicit_port(
    root: Path, tmp_path: Path, certs: Certificates
) -> None:
    """curl's ftps:// is implicit FTPS; the server requires TLS, so nothing may go in clear text."""
    content = os.urandom(1024 * 1024 + 5)
    (root / "file.bin").write_bytes(content)
    upload = tmp_path / "up.bin"
    upload.write_bytes(os.urandom(300_007))
    downloaded = tmp_path / "down.bin"
    async with tls_server(root, certs, implicit_tls_port=0, require_tls=True) as server:
        base = f"ftps://{server.implicit_tls_addresses[0]}"
        common = ("--cacert", str(certs.ca_pem), "--user", f"{USER}:{PASSWORD}")
        down_log = await run_curl(*common, "--output", str(downloaded), f"{base}/file.bin")
        await run_curl(*common, "--upload-file", str(upload), f"{base}/stored.bin")
    assert hashlib.sha256(downloaded.read_bytes()).digest() == hashlib.sha256(content).digest()
    assert (root / "stored.bin").read_bytes() == upload.read_bytes()
    assert "AUTH" not in "".join(line for line in down_log.splitlines() if line.startswith("> "))
    assert "> PROT P" in down_log


async def test_implicit_port_needs_a_certificate(root: Path) -> None:
    with pytest.raises(ValueError, match="implicit_tls_port needs tls_cert"):
        async with Server(root=root, port=0, implicit_tls_port=0):
            pass
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "aioftp_lite", "serve", "--root", str(root), "--port", "0",
                         "--implicit-tls-port", "0"], capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--implicit-tls-port needs --tls-cert" in result.stderr
