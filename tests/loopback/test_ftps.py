"""Explicit FTPS (issue 4 point 1): AUTH TLS, PBSZ, PROT, --require-tls, TLS session reuse.

Certificates come from trustme (a throwaway CA per test). Clients: ftplib.FTP_TLS in a
worker thread and curl as a subprocess, so the server task keeps running on the test's
event loop. Files are checked by sha256 on both sides.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import select
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.clients import ResumingFTP_TLS
from tests.support.threads import in_thread
from tests.support.tls import (
    CLIENT_TIMEOUT,
    PASSWORD,
    USER,
    Certificates,
    run_curl,
    tls_server,
)
from tests.support.tools import CURL


@pytest.fixture
async def strict_server(root: Path, certs: Certificates) -> AsyncIterator[Server]:
    async with tls_server(root, certs, require_tls=True) as running:
        yield running


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tls_client(port: int, certs: Certificates, protect: bool = True,
               factory: type[ftplib.FTP_TLS] = ResumingFTP_TLS) -> ftplib.FTP_TLS:  # fmt: skip
    """AUTH TLS, login, and (by default) PBSZ 0 + PROT P: blocking, call from a thread.

    Data connections resume the control connection's TLS session, which the server
    requires by default (the standard library's FTP_TLS does not: test_tls_reuse.py).
    """
    client = factory(context=certs.client_context(), timeout=CLIENT_TIMEOUT)
    client.connect("127.0.0.1", port)
    client.auth()
    client.login(USER, PASSWORD)
    if protect:
        client.prot_p()
    return client


def reply_code(action: Callable[[], object]) -> int:
    """The code of the error reply `action` gets (fails the test if it succeeds)."""
    try:
        result = action()
    except ftplib.Error as error:
        return int(str(error)[:3])
    raise AssertionError(f"expected an error reply, got {result!r}")


# --- ftplib --------------------------------------------------------------------------------
async def test_ftplib_tls_download_upload_and_listing(root: Path, certs: Certificates) -> None:
    download = os.urandom(2 * 1024 * 1024 + 17)
    upload = os.urandom(1024 * 1024 + 5)
    (root / "down.bin").write_bytes(download)

    def session(port: int) -> tuple[bytes, list[str], list[str]]:
        client = tls_client(port, certs)
        try:
            assert isinstance(client.sock, ssl.SSLSocket)
            received = bytearray()
            client.retrbinary("RETR down.bin", received.extend)
            client.storbinary("STOR up.bin", io.BytesIO(upload))
            names = client.nlst()
            lines: list[str] = []
            client.retrlines("LIST", lines.append)
            client.quit()
            return bytes(received), names, lines
        finally:
            client.close()

    async with tls_server(root, certs) as server:
        received, names, lines = await in_thread(lambda: session(server.port))
    assert sha256(received) == sha256(download)
    assert sha256((root / "up.bin").read_bytes()) == sha256(upload)
    assert sorted(names) == ["down.bin", "up.bin"]
    assert any(line.endswith(" up.bin") and str(len(upload)) in line for line in lines), lines


async def test_data_connections_resume_the_control_tls_session(root: Path, certs: Certificates) -> None:
    (root / "a.txt").write_bytes(b"resumed\n" * 1000)

    def session(port: int) -> tuple[bytes, list[bool]]:
        client = tls_client(port, certs, factory=ResumingFTP_TLS)
        try:
            client.nlst()
            received = bytearray()
            client.retrbinary("RETR a.txt", received.extend)
            client.quit()
            return bytes(received), client.resumed  # type: ignore[attr-defined]
        finally:
            client.close()

    async with tls_server(root, certs) as server:
        received, resumed = await in_thread(lambda: session(server.port))
    assert received == b"resumed\n" * 1000
    assert resumed == [True, True]


async def test_upload_data_connection_gets_no_unread_tls_messages(root: Path, certs: Certificates) -> None:
    """An uploading client never reads its data connection. Had the server sent TLS 1.3
    session tickets there, closing with them unread makes the client's kernel send RST,
    and the end of the upload is lost (this is what curl --upload-file hit)."""
    content = os.urandom(300_000)

    def upload(port: int) -> tuple[bool, str, bool, str]:
        client = tls_client(port, certs, factory=ResumingFTP_TLS)
        try:
            client.voidcmd("TYPE I")
            conn, _ = client.ntransfercmd("STOR up.bin")
            with conn:
                # Anything the server sends after the handshake would arrive by now.
                readable, _, _ = select.select([conn], [], [], 0.3)
                version = conn.version() or ""
                conn.sendall(content)
                conn.unwrap()
            reply = client.voidresp()
            client.quit()
            return bool(readable), version, client.resumed[-1], reply  # type: ignore[attr-defined]
        finally:
            client.close()

    async with tls_server(root, certs) as server:
        readable, version, resumed, reply = await in_thread(lambda: upload(server.port))
    print(f"upload data connection: {version}, session resumed: {resumed}")
    assert not readable, "the server sent TLS records on an upload's data connection"
    assert resumed
    assert reply.startswith("226")
    assert sha256((root / "up.bin").read_bytes()) == sha256(content)


# --- --require-tls -------------------------------------------------------------------------
async def test_require_tls_refuses_a_plain_login(strict_server: Server) -> None:
    def plain_login() -> int:
        client = ftplib.FTP(timeout=CLIENT_TIMEOUT)
        try:
            client.connect("127.0.0.1", strict_server.port)
            return reply_code(lambda: client.login(USER, PASSWORD))
        finally:
            client.close()

    assert await in_thread(plain_login) == 530


async def test_require_tls_refuses_unprotected_data(strict_server: Server, root: Path,
                                                    certs: Certificates) -> None:  # fmt: skip
    content = os.urandom(300_000)
    (root / "secret.bin").write_bytes(content)

    def session() -> tuple[list[int], bytes]:
        client = tls_client(strict_server.port, certs, protect=False)
        try:
            codes = [
                reply_code(lambda: client.prot_c()),  # ftplib sends PROT C without PBSZ
                reply_code(lambda: client.retrbinary("RETR secret.bin", lambda _: None)),
                reply_code(lambda: client.storbinary("STOR new.bin", io.BytesIO(b"x" * 1000))),
                reply_code(lambda: client.nlst()),
            ]
            client.voidcmd("PBSZ 0")
            codes.append(reply_code(lambda: client.prot_c()))
            client.prot_p()  # then everything works on the same session
            received = bytearray()
            client.retrbinary("RETR secret.bin", received.extend)
            client.quit()
            return codes, bytes(received)
        finally:
            client.close()

    codes, received = await in_thread(session)
    # PROT before PBSZ is out of sequence; unprotected transfers 521; PROT C refused (534).
    assert codes == [503, 521, 521, 521, 534]
    assert sha256(received) == sha256(content)
    assert sorted(p.name for p in root.iterdir()) == ["secret.bin"]  # the refused STOR left nothing


# --- FEAT and AUTH without a certificate ---------------------------------------------------
def feat_and_auth(port: int) -> tuple[set[str], str]:
    """The FEAT lines, then the first reply line to AUTH TLS (plain client, no handshake)."""
    client = ftplib.FTP(timeout=CLIENT_TIMEOUT)
    try:
        client.connect("127.0.0.1", port)
        lines = {line.strip() for line in client.sendcmd("FEAT").splitlines()[1:-1]}
        try:
            auth = client.sendcmd("AUTH TLS")
        except ftplib.Error as error:
            auth = str(error)
        return lines, auth
    finally:
        client.close()


async def test_feat_lists_tls_only_when_configured(root: Path, certs: Certificates) -> None:
    tls_lines = {"AUTH TLS", "PBSZ", "PROT"}
    async with Server(root=root, host="127.0.0.1", port=0) as plain:
        plain_features, plain_auth = await in_thread(lambda: feat_and_auth(plain.port))
    assert "EPSV" in plain_features  # the FEAT reply itself was read
    assert not plain_features & tls_lines
    assert plain_auth.startswith("502 ")
    async with tls_server(root, certs) as secure:
        secure_features, secure_auth = await in_thread(lambda: feat_and_auth(secure.port))
    assert tls_lines <= secure_features
    assert secure_auth.startswith("234 ")


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
async def test_curl_ssl_reqd_download_and_upload(strict_server: Server, root: Path, tmp_path: Path,
                                                 certs: Certificates) -> None:  # fmt: skip
    """Against a --require-tls server, so any cleartext login or transfer would fail."""
    content = os.urandom(1024 * 1024 + 3)
    (root / "file.bin").write_bytes(content)
    local_upload = tmp_path / "to-send.bin"
    local_upload.write_bytes(os.urandom(700_001))
    downloaded = tmp_path / "downloaded.bin"
    base = f"ftp://127.0.0.1:{strict_server.port}"
    common = ("--cacert", str(certs.ca_pem), "--user", f"{USER}:{PASSWORD}")

    down_log = await run_curl(*common, "--output", str(downloaded), f"{base}/file.bin")
    up_log = await run_curl(*common, "--upload-file", str(local_upload), f"{base}/uploaded.bin")

    assert sha256(downloaded.read_bytes()) == sha256(content)
    assert sha256((root / "uploaded.bin").read_bytes()) == sha256(local_upload.read_bytes())
    for log in (down_log, up_log):
        assert "> PROT P" in log and "< 200" in log
        reuse = [line for line in log.splitlines() if "session" in line.lower() and "ssl" in line.lower()]
        print("curl -v lines about TLS sessions:", *reuse, sep="\n  ")
