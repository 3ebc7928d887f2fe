"""Clients that resume the control connection's TLS session on data connections keep working
(ftplib resuming, our client, curl, lftp, on TLS 1.2 and 1.3, on uvloop, on the implicit port);
the standard library's FTP_TLS, which does not resume, is refused unless reuse is off."""

from __future__ import annotations

import asyncio
import ftplib
import io
import os
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest

from aioftp_lite.ftpclient import FTPClient
from tests.support.clients import ResumingFTP_TLS
from tests.support.threads import in_thread, server_in_thread
from tests.support.tls import (
    PASSWORD,
    USER,
    Certificates,
    tls_server,
)
from tests.support.tls_reuse import (
    TIMEOUT,
    VERSIONS,
    Intruder,
    code_of,
    control_closed,
    login,
    passive_port,
    retrieve_code,
    sha256,
)
from tests.support.tools import CURL, LFTP


# --- clients that do or do not resume ------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
async def test_a_resuming_ftplib_client_works(
    root: Path, certs: Certificates, version: ssl.TLSVersion
) -> None:
    """Tickets on the control connection, TLS 1.2 and 1.3 alike, let every data connection resume."""
    content = os.urandom(1024 * 1024 + 1)
    (root / "down.bin").write_bytes(content)

    def session(port: int) -> tuple[bytes, list[str], list[bool], str]:
        client = login(port, certs.client_context(version))
        try:
            received = bytearray()
            client.retrbinary("RETR down.bin", received.extend)
            client.storbinary("STOR up.bin", io.BytesIO(content[:300_001]))
            names = client.nlst()
            assert isinstance(client.sock, ssl.SSLSocket)
            negotiated = client.sock.version() or ""
            client.quit()
            return bytes(received), names, client.resumed, negotiated  # type: ignore[attr-defined]
        finally:
            client.close()

    async with tls_server(root, certs) as server:
        received, names, resumed, negotiated = await in_thread(lambda: session(server.port))
    assert negotiated == version.name.replace("v1_", "v1.")
    assert resumed == [True, True, True]
    assert sha256(received) == sha256(content)
    assert sha256((root / "up.bin").read_bytes()) == sha256(content[:300_001])
    assert sorted(names) == ["down.bin", "up.bin"]


async def test_the_standard_ftplib_which_does_not_resume_is_refused(root: Path, certs: Certificates) -> None:
    (root / "a.txt").write_bytes(b"a" * 1000)

    def session(port: int) -> tuple[int, bool]:
        client = login(port, certs.client_context(), factory=ftplib.FTP_TLS)
        try:
            return retrieve_code(client, "a.txt"), control_closed(client)
        finally:
            client.close()

    async with tls_server(root, certs) as server:
        code, closed = await in_thread(lambda: session(server.port))
    assert code == 522
    assert closed


async def test_without_session_reuse_a_client_that_does_not_resume_works(
    root: Path, certs: Certificates
) -> None:
    """tls_session_reuse=False (--no-tls-session-reuse, for old clients): any handshake is accepted."""
    content = os.urandom(500_000)
    (root / "down.bin").write_bytes(content)

    def session(port: int) -> tuple[bytes, list[str]]:
        client = login(port, certs.client_context(), factory=ftplib.FTP_TLS)
        try:
            received = bytearray()
            client.retrbinary("RETR down.bin", received.extend)
            client.storbinary("STOR up.bin", io.BytesIO(content))
            names = client.nlst()
            client.quit()
            return bytes(received), names
        finally:
            client.close()

    async with tls_server(root, certs, tls_session_reuse=False) as server:
        received, names = await in_thread(lambda: session(server.port))
    assert sha256(received) == sha256(content)
    assert sha256((root / "up.bin").read_bytes()) == sha256(content)
    assert sorted(names) == ["down.bin", "up.bin"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_our_client_resumes(
    root: Path, certs: Certificates, tmp_path: Path, version: ssl.TLSVersion
) -> None:
    content = os.urandom(700_000)
    (root / "down.bin").write_bytes(content)
    async with (
        tls_server(root, certs) as server,
        FTPClient(
            "127.0.0.1",
            server.port,
            timeout=TIMEOUT,
            user=USER,
            password=PASSWORD,
            tls=certs.client_context(version),
        ) as client,
    ):
        with (tmp_path / "got.bin").open("wb") as local:
            await client.download("down.bin", local)
        with (tmp_path / "got.bin").open("rb") as local:
            await client.upload(local, "up.bin")
        names = [entry.name for entry in await client.list()]
    assert sha256((tmp_path / "got.bin").read_bytes()) == sha256(content)
    assert sha256((root / "up.bin").read_bytes()) == sha256(content)
    assert sorted(names) == ["down.bin", "up.bin"]


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
@pytest.mark.parametrize("version", ["1.2", "1.3"])
async def test_curl_resumes_and_transfers(
    root: Path, certs: Certificates, tmp_path: Path, version: str
) -> None:
    content = os.urandom(1024 * 1024 + 3)
    (root / "file.bin").write_bytes(content)
    (tmp_path / "send.bin").write_bytes(content[::-1])
    assert CURL is not None
    common = [CURL, "-q", "-v", "--silent", "--show-error", "--noproxy", "*", "--max-time", "20", "--ssl-reqd",
              "--tls-max", version, "--cacert", str(certs.ca_pem), "--user", f"{USER}:{PASSWORD}"]  # fmt: skip
    async with tls_server(root, certs) as server:
        base = f"ftp://127.0.0.1:{server.port}"
        down = await run_tool(*common, "--output", str(tmp_path / "got.bin"), f"{base}/file.bin")
        up = await run_tool(*common, "--upload-file", str(tmp_path / "send.bin"), f"{base}/up.bin")
    assert sha256((tmp_path / "got.bin").read_bytes()) == sha256(content)
    assert sha256((root / "up.bin").read_bytes()) == sha256(content[::-1])
    for log in (down, up):
        assert f"TLSv{version}" in log and "> PROT P" in log
        assert "SSL re-using session ID" in log  # curl offered the control connection's session


@pytest.mark.skipif(LFTP is None, reason="lftp is not installed (apt-get install lftp)")
@pytest.mark.parametrize("priority", [pytest.param("NORMAL:-VERS-TLS1.3", id="tls1.2"),
                                      pytest.param("NORMAL", id="tls1.3")])  # fmt: skip
async def test_lftp_resumes_and_transfers(
    root: Path, certs: Certificates, tmp_path: Path, priority: str
) -> None:
    """lftp (GnuTLS) resumes the control connection's session from its ticket."""
    content = os.urandom(1024 * 1024 + 5)
    (root / "file.bin").write_bytes(content)
    (tmp_path / "send.bin").write_bytes(content[::-1])
    assert LFTP is not None
    settings = ("set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no; "
                f"set ssl:priority {priority}; set net:max-retries 1; set net:timeout 10")  # fmt: skip
    async with tls_server(root, certs) as server:
        script = (f"{settings}; open -u '{USER},{PASSWORD}' ftp://127.0.0.1:{server.port}; "
                  "ls; get file.bin -o got.bin; put send.bin -o up.bin")  # fmt: skip
        await run_tool(LFTP, "-c", script, cwd=tmp_path, env={"HOME": str(tmp_path), "LC_ALL": "C.UTF-8"})
    assert sha256((tmp_path / "got.bin").read_bytes()) == sha256(content)
    assert sha256((root / "up.bin").read_bytes()) == sha256(content[::-1])


async def test_auth_with_an_unreadable_certificate_is_431_and_the_session_goes_on(root: Path,
                                                                                  certs: Certificates) -> None:  # fmt: skip
    """With session reuse required, each AUTH TLS loads the certificate again (a context of its
    own): if the file went away since the start, AUTH gets 431 and the plain session goes on."""

    def session(port: int) -> tuple[int, str]:
        client = ftplib.FTP(timeout=TIMEOUT)
        try:
            client.connect("127.0.0.1", port)
            code = code_of(lambda: client.sendcmd("AUTH TLS"))
            return code, client.sendcmd("NOOP")
        finally:
            client.close()

    async with tls_server(root, certs) as server:
        certs.server_pem.unlink()
        code, noop = await in_thread(lambda: session(server.port))
    assert code == 431
    assert noop.startswith("200")


def test_on_uvloop_too(root: Path, certs: Certificates) -> None:
    """The control connection's context reaches the data connections on uvloop's transports too."""
    uvloop = pytest.importorskip("uvloop", reason="uvloop is in the test extra")
    content = os.urandom(300_000)
    (root / "a.bin").write_bytes(content)
    settings = {"users": {USER: PASSWORD}, "tls_cert": certs.server_pem, "login_failure_delay": 0.0}
    with server_in_thread(root, uvloop.run, **settings) as port:
        client = login(port, certs.client_context())
        received = bytearray()
        client.retrbinary("RETR a.bin", received.extend)
        client.quit()
        plain = login(port, certs.client_context(), factory=ftplib.FTP_TLS)
        code = retrieve_code(plain, "a.bin")
        plain.close()
    assert client.resumed == [True]  # type: ignore[attr-defined]
    assert sha256(received) == sha256(content)
    assert code == 522


async def test_sessions_on_the_implicit_port_are_held_to_resuming_too(
    root: Path, certs: Certificates
) -> None:
    secret = os.urandom(300_000)
    (root / "secret.bin").write_bytes(secret)

    def attack(port: int) -> tuple[bytes, int, bytes]:
        victim = ImplicitFTP_TLS(context=certs.client_context(), timeout=TIMEOUT)
        victim.connect("127.0.0.1", port)
        victim.login(USER, PASSWORD)
        victim.prot_p()
        victim.voidcmd("TYPE I")
        intruder = Intruder(passive_port(victim), certs.client_context())
        victim.sendcmd("RETR secret.bin")
        final = code_of(victim.getresp)
        intruder.join()
        victim.close()
        honest = ImplicitFTP_TLS(context=certs.client_context(), timeout=TIMEOUT)
        honest.connect("127.0.0.1", port)
        honest.login(USER, PASSWORD)
        honest.prot_p()
        received = bytearray()
        honest.retrbinary("RETR secret.bin", received.extend)  # resumes: served
        honest.quit()
        return bytes(intruder.received), final, bytes(received)

    async with tls_server(root, certs, implicit_tls_port=0) as server:
        implicit_port = int(server.implicit_tls_addresses[0].rsplit(":", 1)[1])
        stolen, final, received = await in_thread(lambda: attack(implicit_port))
    assert stolen == b"" and final == 522
    assert sha256(received) == sha256(secret)


# --- curl and lftp -------------------------------------------------------------------------
async def run_tool(*command: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run curl or lftp; fail the test with its output if it fails; returns its stderr."""
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environment.update(env or {})
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment, cwd=cwd
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{command[0]} did not finish") from None
    output = stderr.decode("utf-8", "replace")
    assert process.returncode == 0, (
        f"{command} exited {process.returncode}:\n{stdout[-2000:]!r}\n{output[-3000:]}"
    )
    return output


class ImplicitFTP_TLS(ResumingFTP_TLS):
    """ftplib on an implicit FTPS port: TLS from the first byte."""

    def connect(
        self, host: str = "", port: int = 0, timeout: float = -999, source_address: Any = None
    ) -> str:
        self.host, self.port = host, port
        self.sock = self.context.wrap_socket(
            socket.create_connection((host, port), TIMEOUT), server_hostname=host
        )
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome
