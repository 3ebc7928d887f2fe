"""FTPClient over explicit FTPS (RFC 4217): our Server with --require-tls, pyftpdlib's
TLS_FTPHandler and (where it can run) vsftpd with require_ssl_reuse.

Certificates come from trustme (a throwaway CA per test). Files are checked by sha256
on both sides. Every data connection's TLS object is recorded (RecordingContext), so
the tests see that each one really ran TLS and whether it resumed the control
connection's session.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import pwd
import random
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from aioftp_lite import FTPClient, FTPConnectionLost, FTPReplyError, Server
from aioftp_lite.ftpclient import FTPTLSError
from tests.support.clients import cancel_at_first_progress
from tests.support.vsftpd import start_vsftpd, stop_vsftpd, vsftpd_missing

USER, PASSWORD = "carol", "tls pass"
TIMEOUT = 10.0  # every network wait in the client is bounded by this


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RecordingContext(ssl.SSLContext):
    """A client context that keeps every TLS object it creates (control first, then data)."""

    def __init__(self, protocol: int = ssl.PROTOCOL_TLS_CLIENT) -> None:
        super().__init__()  # the protocol went to SSLContext.__new__
        self.made: list[ssl.SSLObject] = []

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        made = super().wrap_bio(*args, **kwargs)
        self.made.append(made)
        return made

    @property
    def data_objects(self) -> list[ssl.SSLObject]:
        return self.made[1:]


@dataclass
class Certificates:
    ca: trustme.CA
    server_pem: Path  # key and certificate chain in one file

    def client_context(self) -> RecordingContext:
        context = RecordingContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and host name
        self.ca.configure_trust(context)
        return context


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    authority = trustme.CA()
    pem = tmp_path / "server.pem"
    authority.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
    return Certificates(authority, pem)


@pytest.fixture
async def tls_server(root: Path, certs: Certificates) -> AsyncIterator[Server]:
    async with Server(root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}, tls_cert=certs.server_pem,
                      require_tls=True, login_failure_delay=0.0) as running:  # fmt: skip
        yield running


def tls_client(port: int, context: ssl.SSLContext, **options: Any) -> FTPClient:
    return FTPClient("127.0.0.1", port, timeout=TIMEOUT, user=USER, password=PASSWORD, tls=context, **options)


def commands_sent(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" >>> ")[1] for r in caplog.records if " >>> " in r.getMessage()]


async def check_round_trip(client: FTPClient, remote_root: Path, tmp_path: Path, size: int) -> None:
    """Upload, list, download: the bytes survive both ways (sha256)."""
    data = payload(size, seed=size)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    with source.open("rb") as local:
        assert await client.upload(local, "up.bin") == len(data)
    assert sha256((remote_root / "up.bin").read_bytes()) == sha256(data)
    listing = {entry.name: entry for entry in await client.list()}
    assert listing["up.bin"].size == len(data) and not listing["up.bin"].is_dir
    target = tmp_path / "target.bin"
    with target.open("wb") as local:
        assert await client.download("up.bin", local) == len(data)
    assert sha256(target.read_bytes()) == sha256(data)


# --- our server, --require-tls ---------------------------------------------------------------
@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
async def test_login_list_and_transfers_over_tls(
    tls_server: Server, root: Path, tmp_path: Path, certs: Certificates, passive: bool
) -> None:
    (root / "docs").mkdir()
    (root / "docs" / "readme.txt").write_bytes(b"hello over TLS\n")
    context = certs.client_context()
    client = tls_client(tls_server.port, context, passive=passive)
    assert not client.secure
    await client.connect()
    assert client.secure and context.made[0].version() in ("TLSv1.2", "TLSv1.3")
    await client.login()
    assert client.features["AUTH"] == "TLS" and {"PBSZ", "PROT"} <= set(client.features)
    assert [entry.name for entry in await client.list("docs")] == ["readme.txt"]
    await check_round_trip(client, root, tmp_path, 3 * 1024 * 1024 + 7)
    with pytest.raises(FTPReplyError) as missing:  # the handshake already under way is given up
        await client.download("missing.bin", io.BytesIO())
    assert missing.value.code == 550 and await client.pwd() == "/"
    await client.quit()
    assert not client.secure and not client.connected
    # Four data connections (two listings, upload, download), each TLS resuming the control
    # session; in passive mode a fifth, connected before the RETR that was refused.
    assert len(context.data_objects) == (5 if passive else 4)
    assert all(made.session_reused for made in context.data_objects[:4])


async def test_tls_true_uses_the_system_trust_store(tls_server: Server) -> None:
    """tls=True verifies against the system CAs, which do not know the test's throwaway CA."""
    client = FTPClient("127.0.0.1", tls_server.port, timeout=TIMEOUT, tls=True)
    with pytest.raises(FTPTLSError, match="certificate verify failed"):
        await client.connect()
    assert not client.connected


async def test_plain_server_refusing_auth_tls_gives_a_clear_error(
    root: Path, certs: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aioftp_lite.client")
    async with Server(root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}) as plain:
        with pytest.raises(FTPReplyError) as refused:
            async with tls_client(plain.port, certs.client_context()):
                pass
    assert refused.value.code in (500, 502, 504)
    assert "refused AUTH TLS" in str(refused.value)
    assert commands_sent(caplog) == ["AUTH TLS"]  # no USER, no password in the clear


@pytest.mark.parametrize("problem", ["unknown CA", "wrong host name"])
async def test_certificate_that_does_not_verify_is_a_clear_error(
    certs: Certificates, tmp_path: Path, problem: str
) -> None:
    server_pem = certs.server_pem
    context: ssl.SSLContext = certs.client_context()
    if problem == "unknown CA":
        context = ssl.create_default_context()
        trustme.CA().configure_trust(context)  # some other CA
        expected = "certificate verify failed: unable to get local issuer certificate"
    else:
        server_pem = tmp_path / "other.pem"  # from the right CA, for another name
        certs.ca.issue_cert("ftp.example.org").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
        expected = "certificate verify failed: IP address mismatch"
    async with Server(root=tmp_path, host="127.0.0.1", port=0, tls_cert=server_pem) as server:
        client = FTPClient("127.0.0.1", server.port, timeout=TIMEOUT, tls=context)
        with pytest.raises(FTPTLSError) as failed:
            await client.connect()
        where = f"127.0.0.1:{server.port}"
    assert isinstance(failed.value, FTPConnectionLost)  # handled like a lost connection
    assert str(failed.value).startswith(f"TLS handshake with {where} failed: {expected}")
    assert not client.connected and not client.secure
    await client.close()


async def test_failed_tls_on_a_data_connection_keeps_the_control_connection(
    root: Path, certs: Certificates
) -> None:
    """After PROT C the server sends data in the clear; our client, still expecting TLS there,
    fails that transfer with a clear error, and the control connection goes on."""
    (root / "a.txt").write_bytes(b"plain data\n")
    async with Server(root=root, host="127.0.0.1", port=0, tls_cert=certs.server_pem) as server:
        client = FTPClient("127.0.0.1", server.port, timeout=TIMEOUT, tls=certs.client_context())
        async with client:
            await client.command("PROT C")
            with pytest.raises(ConnectionError, match="^TLS on the data connection failed: "):
                await client.download("a.txt", io.BytesIO())
            assert client.connected and client.secure and await client.pwd() == "/"
            await client.command("PROT P")
            received = io.BytesIO()
            await client.download("a.txt", received)
            assert received.getvalue() == b"plain data\n"


async def test_plain_text_sent_after_234_is_never_taken_for_a_reply(certs: Certificates) -> None:
    """A scripted server (or someone in the middle) slips a reply in after 234, before TLS:
    it must not become the answer to USER, which is sent over TLS."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certs.ca.issue_cert("127.0.0.1").configure_cert(server_context)
    answers = {b"USER": b"331 Password please\r\n", b"PASS": b"230 Welcome\r\n", b"FEAT": b"502 No\r\n",
               b"PBSZ": b"200 PBSZ=0\r\n", b"PROT": b"200 Protected\r\n", b"QUIT": b"221 Bye\r\n"}  # fmt: skip
    seen: list[bytes] = []

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"220 Scripted\r\n")
            assert await reader.readline() == b"AUTH TLS\r\n"
            writer.write(b"234 Go ahead\r\n530 Injected in plain text\r\n")
            await writer.start_tls(server_context)
            while line := await reader.readline():
                verb = line.split()[0]
                seen.append(verb)
                writer.write(answers.get(verb, b"502 Unknown\r\n"))
        finally:
            writer.close()

    async with await asyncio.start_server(peer, "127.0.0.1", 0) as listener:
        port = listener.sockets[0].getsockname()[1]
        async with tls_client(port, certs.client_context()) as client:
            assert client.secure
    assert seen == [b"USER", b"PASS", b"FEAT", b"PBSZ", b"PROT", b"QUIT"]


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
async def test_cancelled_download_over_tls_leaves_the_connection_usable(
    tls_server: Server, root: Path, tmp_path: Path, certs: Certificates, passive: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="aioftp_lite.client")
    data = payload(16 * 1024 * 1024)
    (root / "big.bin").write_bytes(data)
    async with tls_client(tls_server.port, certs.client_context(), passive=passive) as client:
        partial = tmp_path / "partial.bin"
        with partial.open("wb") as sink:
            position = await cancel_at_first_progress(
                lambda progress: client.download("big.bin", sink, progress=progress)
            )
        assert 0 < position < len(data)
        assert data.startswith(partial.read_bytes())
        assert client.connected and client.secure and not client.busy
        assert commands_sent(caplog)[-3:] == ["RETR big.bin", "ABOR", "NOOP"]
        assert await client.pwd() == "/"  # replies are in step: this is PWD's own 257
        complete = tmp_path / "complete.bin"
        with complete.open("wb") as sink:
            await client.download("big.bin", sink)
        assert sha256(complete.read_bytes()) == sha256(data)


async def test_cancelled_upload_over_tls_leaves_no_file(
    tls_server: Server, root: Path, tmp_path: Path, certs: Certificates
) -> None:
    data = payload(16 * 1024 * 1024, seed=2)
    local = tmp_path / "up.bin"
    local.write_bytes(data)
    async with tls_client(tls_server.port, certs.client_context()) as client:
        with local.open("rb") as source:
            await cancel_at_first_progress(
                lambda progress: client.upload(source, "up.bin", progress=progress)
            )
        assert "up.bin" not in await client.names()
        with local.open("rb") as source:
            await client.upload(source, "up.bin")
    assert sha256((root / "up.bin").read_bytes()) == sha256(data)


# --- pyftpdlib's TLS_FTPHandler --------------------------------------------------------------
@pytest.fixture
def pyftpd_tls(tmp_path: Path, certs: Certificates) -> Iterator[tuple[int, Path]]:
    pytest.importorskip("OpenSSL", reason="pyftpdlib's FTPS needs pyOpenSSL (in the test extra)")
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import TLS_FTPHandler

    from tests.support.pyftpd import serve_pyftpdlib

    root = tmp_path / "pyftpd-root"
    root.mkdir()
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
    settings = {"authorizer": authorizer, "certfile": str(certs.server_pem), "tls_control_required": True,
                "tls_data_required": True, "auth_failed_timeout": 0.05}  # fmt: skip
    handler = type("TLSHandler", (TLS_FTPHandler,), settings)  # a subclass: settings stay per test
    for port in serve_pyftpdlib(handler):
        yield port, root


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
async def test_pyftpdlib_tls_handler(
    pyftpd_tls: tuple[int, Path], tmp_path: Path, certs: Certificates, passive: bool
) -> None:
    port, remote_root = pyftpd_tls
    context = certs.client_context()
    async with tls_client(port, context, passive=passive) as client:
        assert client.secure
        await check_round_trip(client, remote_root, tmp_path, 2 * 1024 * 1024 + 3)
        assert await client.size("up.bin") == 2 * 1024 * 1024 + 3
    # Three data connections (upload, listing, download), each over TLS.
    assert len(context.data_objects) == 3 and all(made.version() for made in context.data_objects)


@pytest.fixture
def vsftpd_tls(tmp_path: Path, certs: Certificates) -> Iterator[tuple[int, Path]]:
    missing = vsftpd_missing()
    if missing:
        pytest.skip(missing)
    root, empty = tmp_path / "vsftpd-root", tmp_path / "vsftpd-empty"
    (root / "upload").mkdir(parents=True)
    empty.mkdir()
    root.chmod(0o755)  # vsftpd serves anonymous sessions as `ftp`; the root itself must not be writable
    ftp = pwd.getpwnam("ftp")
    os.chown(root / "upload", ftp.pw_uid, ftp.pw_gid)
    settings = {
        "listen": "YES", "listen_ipv6": "NO", "listen_address": "127.0.0.1",
        "background": "NO", "anonymous_enable": "YES", "local_enable": "NO", "no_anon_password": "YES",
        "anon_root": str(root), "write_enable": "YES", "anon_upload_enable": "YES", "anon_umask": "022",
        "xferlog_enable": "NO", "seccomp_sandbox": "NO", "isolate": "NO", "isolate_network": "NO",
        "secure_chroot_dir": str(empty), "connect_from_port_20": "NO",
        "ssl_enable": "YES", "allow_anon_ssl": "YES", "force_anon_logins_ssl": "YES",
        "force_anon_data_ssl": "YES", "require_ssl_reuse": "YES", "ssl_ciphers": "HIGH",
        "rsa_cert_file": str(certs.server_pem), "rsa_private_key_file": str(certs.server_pem),
    }  # fmt: skip
    process, port = start_vsftpd(settings, tmp_path / "vsftpd.conf")
    try:
        yield port, root
    finally:
        stop_vsftpd(process)
        if process.stdout:
            process.stdout.close()


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
async def test_vsftpd_require_ssl_reuse(
    vsftpd_tls: tuple[int, Path], tmp_path: Path, certs: Certificates, passive: bool
) -> None:
    port, remote_root = vsftpd_tls
    context = certs.client_context()
    data = payload(1024 * 1024 + 11, seed=5)
    (remote_root / "pub.bin").write_bytes(data)
    (remote_root / "pub.bin").chmod(0o644)
    client = FTPClient("127.0.0.1", port, timeout=TIMEOUT, tls=context, passive=passive)
    async with client:
        assert client.secure
        assert "pub.bin" in [entry.name for entry in await client.list()]
        received = io.BytesIO()
        await client.download("pub.bin", received)
        assert sha256(received.getvalue()) == sha256(data)
        await client.upload(io.BytesIO(data), "upload/copy.bin")
    assert sha256((remote_root / "upload" / "copy.bin").read_bytes()) == sha256(data)
    assert len(context.data_objects) == 3 and all(made.session_reused for made in context.data_objects)


async def test_vsftpd_refuses_data_without_reuse_and_the_client_says_so(
    vsftpd_tls: tuple[int, Path], certs: Certificates
) -> None:
    """The other side of the test above: a context whose TLS objects are not ours never offers
    the session, vsftpd refuses the data connection, and the error says what happened."""

    class NoResumption(ssl.SSLObject):  # a custom class: FTPClient leaves it in place
        pass

    port, remote_root = vsftpd_tls
    (remote_root / "pub.txt").write_bytes(b"x" * 1000)
    context = certs.client_context()
    context.sslobject_class = NoResumption
    async with FTPClient("127.0.0.1", port, timeout=TIMEOUT, tls=context) as client:
        with pytest.raises(FTPReplyError) as refused:
            await client.download("pub.txt", io.BytesIO())
        # The server's own words, read although it hung up right after sending them.
        assert str(refused.value) == "522 SSL connection failed: session reuse required"
        with pytest.raises(FTPConnectionLost):  # vsftpd ends the session after a data TLS failure
            await client.pwd()
        assert not client.connected
