"""Raw FTP control connections, for tests that must see the wire itself.

`RawControl` is the one blocking raw client: ftplib hides the shape of multi-line replies
and reads one reply per command, while some tests (ABOR's two replies, multi-line layout,
manual EPSV/EPRT) need the exact reply bytes. `Wire` is the same connection with replies
read by the project's `ReplyParser`. Blocking clients run in a worker thread
(`support.threads.in_thread`) so that the server keeps running on the test's event loop.

`Control` and `Clients` are the asyncio counterpart, for tests that hold many connections
at once on the test's own event loop (no thread per client): raw lines in, whole replies
out, and the source address of each connection chosen (127.x addresses play other hosts).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Self

from aioftp_lite.protocol import Reply, ReplyParser

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


class Wire(RawControl):
    """A RawControl whose replies are read by the project's own `ReplyParser`: every byte the
    server sends must parse as FTP replies, and `command` waits past preliminary (1xx) ones."""

    def __init__(self, port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
        self._parser = ReplyParser()
        self._replies: deque[Reply] = deque()
        super().__init__(port, host, timeout)

    def send(self, data: str | bytes) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.sock.sendall(raw if raw.endswith(b"\n") else raw + b"\r\n")

    def read_reply(self) -> Reply:  # type: ignore[override]
        """The next reply (preliminary ones too); ConnectionError once the server closed."""
        while not self._replies:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("control connection closed by the server")
            self._replies.extend(self._parser.feed(chunk))
        return self._replies.popleft()

    reply = read_reply

    def final(self) -> Reply:
        """The next reply that is not a 1xx."""
        for _ in range(100):
            reply = self.reply()
            if not reply.is_preliminary:
                return reply
        raise AssertionError("a hundred preliminary replies in a row")

    def command(self, line: str | bytes) -> Reply:  # type: ignore[override]
        self.send(line)
        return self.final()

    def passive(self, receive_buffer: int | None = None) -> socket.socket:
        return self.open_epsv(receive_buffer)

    def replies_until_closed(self, limit: int = 100) -> list[Reply]:
        out: list[Reply] = []
        for _ in range(limit):
            try:
                out.append(self.reply())
            except (ConnectionError, OSError):
                return out
        raise AssertionError(f"the server kept talking: {out}")


class SlowUpload(threading.Thread):
    """STOR that sends 8 KiB every 10 ms until the server cuts the data connection."""

    def __init__(self, port: int, name: str, give_up_after: float = 20.0) -> None:
        super().__init__(daemon=True)
        self.wire = Wire(port, timeout=20)
        self.wire.login()
        self.wire.send("TYPE I")
        assert self.wire.final().code == 200
        self.data = self.wire.passive()
        self.name = name
        self.wire.send(f"STOR {name}")
        assert self.wire.reply().code == 150
        self.sent = 0
        self.give_up_after = give_up_after
        self.cut = False
        self.replies: list[Reply] = []

    def run(self) -> None:
        block = os.urandom(8192)
        deadline = time.monotonic() + self.give_up_after
        try:
            while time.monotonic() < deadline:
                self.data.sendall(block)
                self.sent += len(block)
                time.sleep(0.01)
        except OSError:
            self.cut = True
        finally:
            self.data.close()
            self.replies = self.wire.replies_until_closed()


REPLY_TIMEOUT = 5.0


_LAST_LINE = re.compile(r"^(\d{3}) ")


class Control:
    """A raw FTP control connection that reads whole (multi-line) replies."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, login: tuple[str, str] = ("", "")
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.default_login = login

    async def send(self, line: str | bytes) -> None:
        data = line.encode() + b"\r\n" if isinstance(line, str) else line
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, timeout: float = REPLY_TIMEOUT) -> tuple[int, str]:
        lines: list[str] = []
        async with asyncio.timeout(timeout):
            for _ in range(1000):  # bounded: no reply of ours has that many lines
                raw = await self.reader.readline()
                if not raw:
                    raise ConnectionError(f"connection closed after {lines!r}")
                lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                match = _LAST_LINE.match(lines[-1])
                if match and (len(lines) == 1 or lines[-1][:3] == lines[0][:3]):
                    return int(match.group(1)), "\n".join(lines)
        raise AssertionError(f"reply too long: {lines[:3]!r}")

    async def command(self, line: str, timeout: float = REPLY_TIMEOUT) -> tuple[int, str]:
        await self.send(line)
        return await self.reply(timeout)

    async def login(self, user: str | None = None, password: str | None = None) -> None:
        """Log in as `user`, by default as the login the connection was opened for."""
        user = self.default_login[0] if user is None else user
        password = self.default_login[1] if password is None else password
        assert (await self.command(f"USER {user}"))[0] == 331
        code, text = await self.command(f"PASS {password}")
        assert code == 230, text

    async def closed_by_server(self, timeout: float = REPLY_TIMEOUT) -> bool:
        """True once the server has closed the connection (EOF or reset)."""
        try:
            async with asyncio.timeout(timeout):
                return await self.reader.read(1024) == b""
        except ConnectionError:
            return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class Clients:
    """Opens control connections to one server (reading the greeting) and closes them all."""

    def __init__(self, port: int, login: tuple[str, str] = ("anonymous", "guest@")) -> None:
        self.port = port
        self.default_login = login
        self.opened: list[Control] = []

    async def connect(self, source: str | None = None) -> tuple[Control, int]:
        """A new connection, from `source` if given, and the code of its greeting."""
        local = (source, 0) if source else None
        streams = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port, local_addr=local), REPLY_TIMEOUT
        )
        control = Control(*streams, self.default_login)
        self.opened.append(control)
        return control, (await control.reply())[0]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for control in self.opened:
            await control.close()


def upload(wire: Wire, name: str, payload: bytes, verb: str = "STOR") -> int:
    """Send `payload` as `name`; returns the final reply code, even if the server cuts the data."""
    data = wire.passive()
    wire.send(f"{verb} {name}")
    first = wire.reply()
    if first.code != 150:
        data.close()
        return first.code
    try:
        data.sendall(payload)
    except OSError:
        pass  # the server gave up on the data connection; its reply says why
    finally:
        data.close()
    return wire.final().code


def download(wire: Wire, name: str) -> bytes:
    data = wire.passive()
    wire.send(f"RETR {name}")
    assert wire.reply().code == 150
    received = bytearray()
    while chunk := data.recv(1 << 16):
        received += chunk
    data.close()
    assert wire.final().code == 226
    return bytes(received)
