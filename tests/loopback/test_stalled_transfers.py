"""Issue 12 point 4: a transfer that moves nothing for --data-timeout seconds is ended.

Raw clients over real sockets: a download that is never read (small receive buffer),
an upload that sends 64 KiB and then nothing. On every byte path (sendfile, splice,
the stream reader and writer, the block sink), with and without TLS, on asyncio's
loop and on uvloop: 426 on the control connection, the data connection closed by the
server, no temporary file left, and the session answers the next command.
A slow transfer that keeps moving, and one held back by a rate limit, are not cut.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from tests.support.control import RawControl, receive_all
from tests.support.threads import loop_runners, server_in_thread

MiB = 1024 * 1024
DATA_TIMEOUT = 1.0
REPLY_BOUND = 15.0  # the control socket's timeout: a 426 must come well within it


LOOPS = loop_runners()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("certs")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    ca, server = folder / "ca.pem", folder / "server.pem"
    authority.cert_pem.write_to_path(str(ca))
    issued.private_key_and_cert_chain_pem.write_to_path(str(server))
    return ca, server


class Client:
    """A raw control connection, optionally with TLS on control and data (PROT P)."""

    def __init__(self, port: int, ca: Path | None) -> None:
        self.control = RawControl(port, timeout=REPLY_BOUND)
        self.tls: ssl.SSLContext | None = None
        if ca is not None:
            self.tls = ssl.create_default_context(cafile=str(ca))
            assert self.control.command("AUTH TLS").code == 234
            self.control.sock = self.tls.wrap_socket(self.control.sock, server_hostname="127.0.0.1")
        self.control.login()
        if self.tls is not None:
            assert self.control.command("PBSZ 0").code == 200
            assert self.control.command("PROT P").code == 200

    def start(self, command: str, receive_buffer: int | None = None) -> socket.socket:
        """EPSV, connect, send `command`, expect 150; the data socket (TLS-wrapped under PROT P)."""
        data = self.control.open_epsv(receive_buffer)
        reply = self.control.command(command)
        assert reply.code == 150, reply
        if self.tls is not None:
            session = getattr(self.control.sock, "session", None)  # resume the control session
            data = self.tls.wrap_socket(data, server_hostname="127.0.0.1", session=session)
        return data


def assert_closed_by_server(data: socket.socket) -> None:
    """The server has closed its end: reading ends (EOF or reset) instead of timing out."""
    try:
        receive_all(data, limit=256 * MiB)
    except (ConnectionResetError, ssl.SSLError):
        pass
    finally:
        data.close()


def assert_cut_and_session_goes_on(client: Client, data: socket.socket, root: Path) -> None:
    started = time.monotonic()
    reply = client.control.read_reply()
    waited = time.monotonic() - started
    assert reply.code == 426, reply
    assert "No data moved" in reply.text, reply
    print(f"426 after {waited:.2f}s of waiting (data timeout {DATA_TIMEOUT}s)")
    assert_closed_by_server(data)
    assert not [p.name for p in root.rglob("*.aioftp-part")], "a temporary upload file was left"
    assert client.control.command("NOOP").code == 200
    assert client.control.command("PWD").code == 257


@contextmanager
def running(
    root: Path, loop: Callable[..., object], tls_cert: Path | None, **settings: object
) -> Iterator[int]:
    with server_in_thread(root, loop, data_timeout=DATA_TIMEOUT, tls_cert=tls_cert, **settings) as port:
        yield port


MODES = ["binary", "ascii", "tls"]  # sendfile/splice, the stream paths, TLS (streams or block sink)


@pytest.mark.parametrize("loop", LOOPS, ids=lambda runner: runner[0])
@pytest.mark.parametrize("mode", MODES)
def test_a_download_never_read_is_ended(
    tmp_path: Path, certificates: tuple[Path, Path], loop: tuple[str, Callable[..., object]], mode: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with open(root / "big.bin", "wb") as file:
        file.truncate(64 * MiB)
    ca, cert = certificates
    with running(root, loop[1], cert if mode == "tls" else None) as port:
        client = Client(port, ca if mode == "tls" else None)
        assert client.control.command("TYPE A" if mode == "ascii" else "TYPE I").code == 200
        data = client.start("RETR big.bin", receive_buffer=16 * 1024)  # and never read
        assert_cut_and_session_goes_on(client, data, root)
        client.control.close()


@pytest.mark.parametrize("loop", LOOPS, ids=lambda runner: runner[0])
@pytest.mark.parametrize("mode", [*MODES, "appe"])  # APPE: the block sink on asyncio's loop
def test_an_upload_that_stops_sending_is_ended(
    tmp_path: Path, certificates: tuple[Path, Path], loop: tuple[str, Callable[..., object]], mode: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "old.bin").write_bytes(b"old data")
    ca, cert = certificates
    with running(root, loop[1], cert if mode == "tls" else None) as port:
        client = Client(port, ca if mode == "tls" else None)
        assert client.control.command("TYPE A" if mode == "ascii" else "TYPE I").code == 200
        verb = "APPE" if mode == "appe" else "STOR"
        data = client.start(f"{verb} old.bin")
        data.sendall(os.urandom(64 * 1024))  # then nothing, and the connection stays open
        assert_cut_and_session_goes_on(client, data, root)
        client.control.close()
    if mode != "appe":
        assert (root / "old.bin").read_bytes() == b"old data"  # the cut upload replaced nothing
    assert sorted(p.name for p in root.iterdir()) == ["old.bin"]


@pytest.mark.parametrize("loop", LOOPS, ids=lambda runner: runner[0])
def test_a_slow_download_that_keeps_moving_is_not_cut(
    tmp_path: Path, loop: tuple[str, Callable[..., object]]
) -> None:
    """Read a little every 0.2 s for 2.5 data timeouts: sendfile's last call may have filled a
    kernel buffer of several MiB that the client drains slowly; that is progress."""
    root = tmp_path / "root"
    root.mkdir()
    payload = os.urandom(16 * MiB)
    (root / "big.bin").write_bytes(payload)
    with running(root, loop[1], None) as port:
        client = Client(port, None)
        assert client.control.command("TYPE I").code == 200
        data = client.start("RETR big.bin", receive_buffer=32 * 1024)
        received = bytearray()
        slow_until = time.monotonic() + 2.5 * DATA_TIMEOUT
        while time.monotonic() < slow_until:
            received += data.recv(16 * 1024)
            time.sleep(0.2)
        received += receive_all(data)
        data.close()
        reply = client.control.read_reply()
        assert reply.code == 226, reply
        client.control.close()
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


def test_a_rate_limited_download_is_not_cut_while_the_server_holds_it(tmp_path: Path) -> None:
    """At 128 KiB/s a 256 KiB chunk is followed by a 2 s pause of the server's own making."""
    root = tmp_path / "root"
    root.mkdir()
    payload = os.urandom(300 * 1024)
    (root / "file.bin").write_bytes(payload)
    with running(root, asyncio.run, None, max_session_rate=128 * 1024) as port:
        client = Client(port, None)
        assert client.control.command("TYPE I").code == 200
        data = client.start("RETR file.bin")
        received = receive_all(data)
        data.close()
        reply = client.control.read_reply()
        assert reply.code == 226, reply
        client.control.close()
    assert received == payload
