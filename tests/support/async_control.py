"""An asyncio FTP control client for tests that hold many connections at once on the
test's own event loop (no thread per client): raw lines in, whole replies out, and the
source address of each connection chosen (127.x addresses play other hosts)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Self

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
