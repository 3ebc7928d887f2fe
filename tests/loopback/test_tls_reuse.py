"""A protected data connection must resume its control connection's TLS session (issue 12 point 9).

The attack: a local neighbour connects first to a PROT P session's passive port and
does a TLS handshake of its own; without the resumption requirement it received the
victim's file. Resuming clients (curl, lftp, a resuming ftplib, our own client) keep
working, over TLS 1.2 and 1.3; the standard library's FTP_TLS, which does not resume,
is refused unless the server runs with tls_session_reuse=False.
"""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import io
import os
import shutil
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme

from aioftp_lite import Server
from aioftp_lite.ftpclient import FTPClient
from aioftp_lite.tls import server_context
from tests.support.clients import ResumingFTP_TLS
from tests.support.threads import in_thread, server_in_thread

USER, PASSWORD = "alice", "tls pass"
TIMEOUT = 10.0
CURL = shutil.which("curl")
LFTP = shutil.which("lftp")
VERSIONS = [
    pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"),
    pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3"),
]


@dataclass
class Certificates:
    ca_pem: Path
    server_pem: Path  # key and certificate chain in one file

    def client_context(self, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_pem))
        if version is not None:
            context.maximum_version = version
        return context


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    authority = trustme.CA()
    result = Certificates(tmp_path / "ca.pem", tmp_path / "server.pem")
    authority.cert_pem.write_to_path(str(result.ca_pem))
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(result.server_pem))
    return result


def tls_server(root: Path, certs: Certificates, **settings: Any) -> Server:
    return Server(root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}, tls_cert=certs.server_pem,
                  login_failure_delay=0.0, **settings)  # fmt: skip


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def login(
    port: int, context: ssl.SSLContext, factory: type[ftplib.FTP_TLS] = ResumingFTP_TLS
) -> ftplib.FTP_TLS:
    """AUTH TLS, login, PBSZ 0, PROT P, TYPE I (blocking: call from a thread)."""
    client = factory(context=context, timeout=TIMEOUT)
    client.connect("127.0.0.1", port)
    client.auth()
    client.login(USER, PASSWORD)
    client.prot_p()
    client.voidcmd("TYPE I")
    return client


def code_of(action: Callable[[], object]) -> int:
    try:
        return int(str(action())[:3])
    except ftplib.Error as error:
        return int(str(error)[:3])


def retrieve_code(client: ftplib.FTP, name: str) -> int:
    """The final reply code to RETR `name`, whether the data connection's TLS failed on
    our side first (then the reply is still to be read) or the reply came as an error."""
    try:
        client.retrbinary(f"RETR {name}", lambda _: None)
        return 226
    except ftplib.Error as error:
        return int(str(error)[:3])
    except (OSError, ValueError):
        return code_of(client.getresp)


def control_closed(client: ftplib.FTP) -> bool:
    """Whether the server has closed this control connection."""
    try:
        client.voidcmd("NOOP")
    except (EOFError, ConnectionError, ssl.SSLError):
        return True
    return False


# --- the attack ----------------------------------------------------------------------------
@dataclass
class Intruder:
    """Connects first to a passive port, then does its own TLS handshake in a thread
    (blocking until the server answers it) and keeps whatever the server sends."""

    port: int
    context: ssl.SSLContext
    session: ssl.SSLSession | None = None  # offered for resumption, if any
    upload: bytes = b""  # sent after the handshake
    received: bytearray = field(default_factory=bytearray)
    resumed: bool | None = None
    sock: socket.socket = field(init=False)
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with self.context.wrap_socket(
                self.sock, server_hostname="127.0.0.1", session=self.session
            ) as tls:
                self.resumed = tls.session_reused
                if self.upload:
                    tls.sendall(self.upload)
                    tls.unwrap()  # close_notify: the end of the upload
                    return
                while chunk := tls.recv(65536):
                    self.received += chunk
        except (OSError, ValueError):
            pass  # refused: reset, EOF without close_notify, or a failed handshake

    def join(self) -> None:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the intruder's connection was neither served nor closed"


def passive_port(client: ftplib.FTP) -> int:
    return ftplib.parse227(client.sendcmd("PASV"))[1]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_fresh_handshake_on_the_passive_port_gets_nothing(root: Path, certs: Certificates,
                                                                  version: ssl.TLSVersion) -> None:  # fmt: skip
    secret = os.urandom(400_000)
    (root / "secret.bin").write_bytes(secret)

    def attack(port: int) -> tuple[bytes, str, int, bool, bytes]:
        victim = login(port, certs.client_context())
        try:
            intruder = Intruder(passive_port(victim), certs.client_context(version))
            opening = victim.sendcmd("RETR secret.bin")  # the victim never connects: the intruder was first
            final = code_of(victim.getresp)
            intruder.join()
            closed = control_closed(victim)
        finally:
            victim.close()
        # The server still serves a resuming client in full.
        again = login(port, certs.client_context())
        received = bytearray()
        again.retrbinary("RETR secret.bin", received.extend)
        again.quit()
        return bytes(intruder.received), opening, final, closed, bytes(received)

    async with tls_server(root, certs) as server:
        stolen, opening, final, closed, received = await in_thread(lambda: attack(server.port))
    assert stolen == b"", f"the intruder received {len(stolen)} bytes"
    assert opening.startswith("150")
    assert final == 522  # vsftpd's code for a data connection whose TLS it refuses
    assert closed, "the session whose data connection was intruded should end (as vsftpd's does)"
    assert sha256(received) == sha256(secret)


async def test_a_session_of_another_control_connection_is_not_resumed(
    root: Path, certs: Certificates
) -> None:
    """The intruder logs in on a control connection of its own and offers that TLS session
    on the victim's data connection: it is not a session of the victim's connection."""
    secret = os.urandom(300_000)
    (root / "secret.bin").write_bytes(secret)

    def attack(port: int) -> tuple[bytes, bool | None, int]:
        context = certs.client_context()  # one context: its session may be offered anywhere
        own = login(port, context)
        own.nlst()  # the intruder's own data connection resumes its own session
        assert own.resumed == [True]  # type: ignore[attr-defined]
        assert isinstance(own.sock, ssl.SSLSocket)
        victim = login(port, certs.client_context())
        try:
            intruder = Intruder(passive_port(victim), context, session=own.sock.session)
            victim.sendcmd("RETR secret.bin")
            final = code_of(victim.getresp)
            intruder.join()
        finally:
            victim.close()
            own.close()
        return bytes(intruder.received), intruder.resumed, final

    async with tls_server(root, certs) as server:
        stolen, resumed, final = await in_thread(lambda: attack(server.port))
    assert stolen == b""
    assert resumed is not True  # the victim's context cannot even read the intruder's ticket
    assert final == 522


async def test_upload_data_from_an_intruder_is_not_stored(root: Path, certs: Certificates) -> None:
    (root / "kept.txt").write_bytes(b"original\n")

    def attack(port: int) -> int:
        victim = login(port, certs.client_context())
        try:
            intruder = Intruder(passive_port(victim), certs.client_context(), upload=b"forged\n" * 50_000)
            victim.sendcmd("STOR kept.txt")
            final = code_of(victim.getresp)
            intruder.join()
            return final
        finally:
            victim.close()

    async with tls_server(root, certs) as server:
        final = await in_thread(lambda: attack(server.port))
    assert final == 522
    assert sorted(p.name for p in root.iterdir()) == ["kept.txt"]  # no partial upload left behind
    assert (root / "kept.txt").read_bytes() == b"original\n"


def test_after_one_refusal_even_a_resumed_session_is_refused(certs: Certificates) -> None:
    """With TLS 1.2 a refused data connection's full handshake got a ticket of the
    connection's context; resuming that ticket later must not pass (tls.py)."""
    template = server_context(certs.server_pem)
    context = template.for_connection()
    client_context = certs.client_context(ssl.TLSVersion.TLSv1_2)

    def handshake(session: ssl.SSLSession | None) -> tuple[bool, bool, ssl.SSLSession | None]:
        server_end, client_end = socket.socketpair()
        with server_end, client_end:
            server_end.settimeout(TIMEOUT)
            client_end.settimeout(TIMEOUT)
            done: list[ssl.SSLSocket] = []
            client = threading.Thread(target=lambda: done.append(client_context.wrap_socket(
                client_end, server_hostname="127.0.0.1", session=session)))  # fmt: skip
            client.start()
            served = context.wrap_socket(server_end, server_side=True)
            client.join(TIMEOUT)
            accepted = context.accepts_data_connection(served)  # type: ignore[arg-type]
            return served.session_reused, accepted, done[0].session

    fresh_reused, fresh_accepted, ticket = handshake(None)
    assert (fresh_reused, fresh_accepted) == (False, False)
    resumed, accepted = handshake(ticket)[:2]
    assert resumed  # the intruder's own ticket does resume...
    assert not accepted  # ...but proves nothing now


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


class ImplicitFTP_TLS(ResumingFTP_TLS):
    """ftplib on an implicit FTPS port: TLS from the first byte."""

    def connect(self, host: str = "", port: int = 0, timeout: float = -999, source_address: Any = None) -> str:
        self.host, self.port = host, port
        self.sock = self.context.wrap_socket(socket.create_connection((host, port), TIMEOUT), server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


async def test_sessions_on_the_implicit_port_are_held_to_resuming_too(root: Path, certs: Certificates) -> None:
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
