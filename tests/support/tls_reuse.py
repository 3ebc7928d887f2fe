"""The clients of the TLS-session-reuse tests: a logged-in FTP_TLS that resumes (or not), and an
intruder that connects first to a victim's passive port with a TLS handshake of its own."""

from __future__ import annotations

import ftplib
import hashlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.support.clients import ResumingFTP_TLS
from tests.support.tls import PASSWORD, USER

TIMEOUT = 10.0


VERSIONS = [
    pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"),
    pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3"),
]


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
