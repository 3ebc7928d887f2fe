"""The standard library's blocking clients (ftplib), set up the way the tests use them.

Blocking: call them from a worker thread (`support.threads.in_thread`) while the server runs
on the test's event loop."""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import io
import os
import re
import ssl
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from aioftp_lite.auth import UserEntry
from aioftp_lite.ftpclient.transfers import Progress


def code_of(client: ftplib.FTP, line: str) -> int:
    """The reply code of one control command, whether ftplib calls it success or error."""
    try:
        return int(client.sendcmd(line)[:3])
    except ftplib.Error as error:
        return int(str(error)[:3])


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


USER, PASSWORD = "alice", "s3cret pass"


def quick_hash(password: str) -> str:
    """A stored scrypt hash at N=2^10, which the server verifies by the parameters it carries:
    a few milliseconds, where the default N=2^14 costs every test that logs in ~40 ms at
    start (hashing `--user`) and again at its first login."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**10, r=8, p=1)
    return f"scrypt${2**10}$8$1${salt.hex()}${digest.hex()}"


def accounts_for(user: str, password: str) -> dict[str, UserEntry]:
    """One named account as a config file's [[users]] entry, with a quick stored hash."""
    return {user: UserEntry(quick_hash(password))}


ACCOUNTS = accounts_for(USER, PASSWORD)


def connect_ftplib(port: int, user: str = "anonymous", password: str = "guest@", host: str = "127.0.0.1",
                   timeout: float = 10) -> ftplib.FTP:  # fmt: skip
    """A logged-in ftplib client (blocking: call it from a worker thread)."""
    client = ftplib.FTP(timeout=timeout)
    client.connect(host, port)
    client.login(user, password)
    return client


def list_name(line: str) -> str:
    match = LIST_LINE.match(line)
    assert match, f"not an ls -l line: {line!r}"
    return match[1]


def list_lines(client: ftplib.FTP, line: str = "LIST") -> list[str]:
    lines: list[str] = []
    client.retrlines(line, lines.append)
    return lines


async def cancel_at_first_progress(start: Callable[[Progress], Coroutine[None, None, int]]) -> int:
    """Run a transfer and cancel it from its own first progress callback (as Ctrl-C would)."""
    positions: list[int] = []
    task: asyncio.Task[int]

    def progress(position: int) -> None:
        if not positions:
            task.cancel()
        positions.append(position)

    task = asyncio.create_task(start(progress))
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert task.cancelled()
    return positions[0]


# `ls -l` line: mode, links, owner, group, size, month, day, time or year, ONE space, name.
LIST_LINE = re.compile(
    r"^[-dl][-rwxsStT]{9}\s+\d+\s+\S+\s+\S+\s+\d+\s+[A-Z][a-z]{2}\s+\d{1,2}\s+[\d:]{4,5} (.*)$"
)


def download(client: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    received = io.BytesIO()
    client.retrbinary(f"RETR {name}", received.write, rest=rest)
    return received.getvalue()
