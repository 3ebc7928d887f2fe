"""pyftpdlib, a server we did not write, on its own event loop in a background thread on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

USER, PASSWORD = "bob", "pyftpd pass"


TIMEOUT = 10.0


@dataclass
class PyFtpd:
    port: int
    root: Path


def _serve(handler_class: type[FTPHandler], root: Path) -> Iterator[PyFtpd]:
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
    authorizer.add_anonymous(str(root))
    handler_class.authorizer = authorizer
    handler_class.auth_failed_timeout = 0.05  # its default 3 s delay after a bad password
    for port in serve_pyftpdlib(handler_class):
        yield PyFtpd(port, root)


def serve_pyftpdlib(handler_class: type[FTPHandler]) -> Iterator[int]:
    """Run a pyftpdlib server for `handler_class` on 127.0.0.1 in a thread; yields its port."""
    server = FTPServer(("127.0.0.1", 0), handler_class)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():  # one poll per turn, so the stop flag is seen within 50 ms
            server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        server.close_all()

    thread = threading.Thread(target=run, name="pyftpdlib", daemon=True)
    thread.start()
    try:
        yield server.address[1]
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "pyftpdlib did not stop"


@pytest.fixture
def pyftpd(tmp_path: Path) -> Iterator[PyFtpd]:
    root = tmp_path / "pyftpd-root"
    root.mkdir()
    handler = type("Handler", (FTPHandler,), {})  # a subclass: class attributes stay per test
    yield from _serve(handler, root)


@pytest.fixture
def old_pyftpd(tmp_path: Path) -> Iterator[PyFtpd]:
    """pyftpdlib without the RFC 2428/3659 commands: EPSV, EPRT, MLSD, MLST unknown to it."""
    root = tmp_path / "old-root"
    root.mkdir()
    commands = {k: v for k, v in FTPHandler.proto_cmds.items() if k not in ("EPSV", "EPRT", "MLSD", "MLST")}
    handler = type("OldHandler", (FTPHandler,), {"proto_cmds": commands})
    yield from _serve(handler, root)
