"""Tools for the tests that drive the server with blocking clients.

`RawControl` is a raw FTP control connection for tests that must see the exact reply
bytes: ftplib hides the shape of multi-line replies and reads one reply per command,
while some tests (ABOR's two replies, multi-line layout, manual EPSV/EPRT) need the
wire itself. Blocking clients run in a worker thread (`in_thread`) so that the server
keeps running on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")


async def in_thread(work: Callable[[], T], timeout: float = 30) -> T:
    """Run a blocking client session in a worker thread, bounded in time."""
    return await asyncio.wait_for(asyncio.to_thread(work), timeout)


def code_of(client: ftplib.FTP, line: str) -> int:
    """The reply code of one control command, whether ftplib calls it success or error."""
    try:
        return int(client.sendcmd(line)[:3])
    except ftplib.Error as error:
        return int(str(error)[:3])


_FIRST_LINE = re.compile(r"^(\d{3})([ -])")
MAX_REPLY_LINES = 10_000  # a bound on every read loop


@dataclass
class RawReply:
    code: int
    lines: list[str]  # as sent, without CRLF

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class RawControl:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.host = host
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        self.greeting = self.read_reply()

    # --- bytes ----------------------------------------------------------------------
    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        self.sock.sendall(data if data.endswith(b"\r\n") else data + b"\r\n")

    def read_line(self) -> str:
        """One line; every line the server sends must end in CRLF."""
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"control connection closed; pending {self._buffer!r}")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\n")
        assert raw.endswith(b"\r"), f"reply line without CRLF: {raw!r}"
        return raw[:-1].decode("utf-8")

    def read_reply(self) -> RawReply:
        first = self.read_line()
        match = _FIRST_LINE.match(first)
        assert match, f"not a reply line: {first!r}"
        code = int(match[1])
        lines = [first]
        if match[2] == "-":
            for _ in range(MAX_REPLY_LINES):
                line = self.read_line()
                lines.append(line)
                if line.startswith(f"{code} "):
                    break
            else:
                raise AssertionError(f"multi-line reply {code} never ended")
        return RawReply(code, lines)

    def command(self, line: str | bytes) -> RawReply:
        self.send(line)
        return self.read_reply()

    # --- sessions -------------------------------------------------------------------
    def login(self, user: str = "anonymous", password: str = "guest@") -> None:
        assert self.command(f"USER {user}").code == 331
        reply = self.command(f"PASS {password}")
        assert reply.code == 230, reply

    def open_epsv(self, receive_buffer: int | None = None) -> socket.socket:
        """EPSV and connect; a small receive buffer keeps the server from racing ahead."""
        reply = self.command("EPSV")
        assert reply.code == 229, reply
        match = re.search(r"\(\|\|\|(\d+)\|\)", reply.lines[0])
        assert match, reply
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        data = socket.socket(family, socket.SOCK_STREAM)
        if receive_buffer is not None:
            data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        data.settimeout(self.timeout)
        data.connect((self.host, int(match[1])))
        return data

    def close(self) -> None:
        self.sock.close()


class ResumingFTP_TLS(ftplib.FTP_TLS):
    """ftplib's FTP_TLS, but its data connections resume the control connection's TLS
    session, as curl, lftp and FileZilla do (the standard library's does not, so a server
    that requires it, as ours and vsftpd do by default, refuses it). Records whether each
    data connection resumed."""

    resumed: list[bool]

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[Any, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            assert isinstance(self.sock, ssl.SSLSocket)
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
            self.resumed = [*getattr(self, "resumed", []), conn.session_reused]
        return conn, size


def receive_all(data: socket.socket, limit: int = 1 << 30) -> bytes:
    """Read a data connection to its end (bounded by `limit` bytes)."""
    parts, total = [], 0
    while total <= limit:
        chunk = data.recv(1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
    raise AssertionError("data connection sent more than the limit")


def assert_multiline_shape(reply: RawReply) -> None:
    """RFC 959 4.2: `ddd-first`, inner lines that cannot be taken for the end, `ddd last`."""
    code = str(reply.code)
    assert len(reply.lines) >= 2, reply
    assert reply.lines[0].startswith(code + "-"), reply
    assert reply.lines[-1].startswith(code + " "), reply
    for inner in reply.lines[1:-1]:
        assert not re.match(r"^\d{3}[ -]", inner), f"inner line looks like a reply end: {inner!r}"


@contextmanager
def server_in_thread(root: Path, run: Callable[..., object], **settings: Any) -> Iterator[int]:
    """A Server on `root` in its own thread, on the loop `run` starts (asyncio.run, uvloop.run);
    yields its port, and stops it on exit. `settings` go to Server."""
    from aioftp_lite import Server

    ready: list[int] = []
    stop = threading.Event()

    async def serve() -> None:
        async with Server(root=root, host="127.0.0.1", port=0, **settings) as server:
            ready.append(server.port)
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=lambda: run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not ready and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert ready, "the server did not start"
        yield ready[0]
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


@contextmanager
def server_process(
    root: Path, *arguments: str, python: str = "", wrapper: Sequence[str] = ()
) -> Iterator[int]:
    """`aioftp-lite serve` on `root` as its own process (as a black-box client meets it);
    yields its port and kills it on exit. `python`: code run in that process first;
    `wrapper`: a command the server runs under (strace ...), which ends with it."""
    start = f"{python}; import sys; from aioftp_lite.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [*wrapper, sys.executable, "-c", start.lstrip("; "), "serve", "--root", str(root), "--port", "0",
         *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        match = re.search(r"ftp://127\.0\.0\.1:(\d+)", process.stdout.readline())
        assert match, "the server did not start"
        yield int(match[1])
    finally:
        if wrapper:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()  # the server itself: its wrapper then ends on its own, output complete
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        process.kill()  # nothing if it has ended
        process.wait(timeout=10)
