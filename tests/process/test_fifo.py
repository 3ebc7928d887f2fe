"""Issue 12, point 3: a named pipe in the root must not stop the server.

Opening a FIFO waits for its other end; a server that opens one for a transfer blocks
a worker thread (or the event loop) until someone does, and a few such requests exhaust
the worker pool for everybody. Every request about the pipe must be answered at once
(550 "Not a regular file" for transfers), listings show it, and fresh clients are served.
The server runs as its own process, so a server that does hang cannot hang the test.
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import pytest

from aioftp_lite.storage import LocalStorage, WriteMode
from tests.support.clients import connect_ftplib
from tests.support.processes import server_process
from tests.support.threads import in_thread

ANSWER_WITHIN = 5.0  # seconds; the issue saw no reply within 10 s


def _reply(action: object) -> str:
    """The reply (code and text) of one command, success or refusal; 'no reply' on a timeout."""
    try:
        return str(action())  # type: ignore[operator]
    except (ftplib.error_perm, ftplib.error_temp, ftplib.error_reply) as error:
        return str(error)
    except OSError:  # a timeout, or the socket ftplib gave up on after one
        return "no reply"


def _appe(port: int) -> str:
    client = connect_ftplib(port, timeout=ANSWER_WITHIN)
    try:
        return _reply(lambda: client.storbinary("APPE pipe", io.BytesIO(b"appended")))
    finally:
        client.close()


def _session(port: int) -> dict[str, str]:
    client = connect_ftplib(port, timeout=ANSWER_WITHIN)
    lines: list[str] = []
    replies = {
        "STOR": _reply(lambda: client.storbinary("STOR pipe", io.BytesIO(b"stored"))),
        "REST+STOR": _reply(lambda: client.storbinary("STOR pipe", io.BytesIO(b"resumed"), rest=0)),
        "RETR": _reply(lambda: client.retrbinary("RETR pipe", lambda _data: None)),
        "REST+RETR": _reply(lambda: client.retrbinary("RETR pipe", lambda _data: None, rest=0)),
        "SIZE": _reply(lambda: client.sendcmd("SIZE pipe")),
        "MLST": _reply(lambda: client.sendcmd("MLST pipe")),
        "LIST pipe": _reply(lambda: client.retrlines("LIST pipe", lines.append)),
        "LIST": _reply(lambda: client.retrlines("LIST", lines.append)),
        "NLST": _reply(lambda: client.retrlines("NLST", lines.append)),
    }
    replies["listed"] = "\n".join(lines)
    client.close()
    return replies


def _fresh_client(port: int) -> str:
    client = connect_ftplib(port, timeout=ANSWER_WITHIN)
    data = io.BytesIO()
    reply = _reply(lambda: client.retrbinary("RETR plain.txt", data.write))
    client.quit()
    return f"{reply} {data.getvalue()!r}"


@contextmanager
def _reader_released_at_exit(pipe: Path) -> Iterator[None]:
    """At the end, open the pipe's other end and drain it, so that a server that did block
    on it (before the fix) is let go instead of holding threads while it is killed."""
    try:
        yield
    finally:
        stop = threading.Event()

        def drain() -> None:
            fd = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
            try:
                while not stop.wait(0.05):
                    try:
                        os.read(fd, 65536)
                    except BlockingIOError:
                        pass
            finally:
                os.close(fd)

        drainer = threading.Thread(target=drain)
        drainer.start()
        time.sleep(0.2)
        stop.set()
        drainer.join(timeout=5)


async def test_a_fifo_is_refused_at_once_and_the_server_keeps_serving(root: Path) -> None:
    pipe = root / "pipe"
    os.mkfifo(pipe)
    (root / "plain.txt").write_bytes(b"plain")

    def run(port: int) -> tuple[list[str], dict[str, str], str]:
        with ThreadPoolExecutor(max_workers=9) as pool:
            appends = [pool.submit(_appe, port) for _ in range(8)]
            time.sleep(0.3)  # the eight APPEs are in before anything else asks
            session = pool.submit(_session, port)
            return [a.result() for a in appends], session.result(), _fresh_client(port)

    with _reader_released_at_exit(pipe), server_process(root) as port:
        appends, replies, fresh = await in_thread(lambda: run(port), timeout=60)
    assert appends == ["550 Not a regular file"] * 8
    for verb in ("STOR", "REST+STOR", "RETR", "REST+RETR"):
        assert replies[verb] == "550 Not a regular file", (verb, replies)
    assert replies["SIZE"].startswith(("213", "550")) and replies["MLST"].startswith("250"), replies
    for verb in ("LIST pipe", "LIST", "NLST"):
        assert replies[verb].startswith("226"), (verb, replies)
    listed = replies["listed"].splitlines()
    assert listed.count("pipe") == 1 and sum(line.endswith(" pipe") for line in listed) == 2, listed
    assert fresh.startswith("226") and fresh.endswith("b'plain'"), fresh
    assert pipe.is_fifo() and sorted(p.name for p in root.iterdir()) == ["pipe", "plain.txt"]


async def test_the_storage_never_opens_a_fifo_in_a_way_that_waits(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    storage = LocalStorage(tmp_path)
    try:
        for mode in WriteMode:
            with pytest.raises(PermissionError, match="Not a regular file"):
                await asyncio.wait_for(storage.open_write(PurePosixPath("/pipe"), mode), ANSWER_WITHIN)
        with pytest.raises(PermissionError, match="Not a regular file"):
            await asyncio.wait_for(storage.open_read(PurePosixPath("/pipe")), ANSWER_WITHIN)
        info = await asyncio.wait_for(storage.stat(PurePosixPath("/pipe")), ANSWER_WITHIN)
        assert not info.is_dir and info.size == 0
        listed = await asyncio.wait_for(storage.list_dir(PurePosixPath("/")), ANSWER_WITHIN)
        assert [entry.name for entry in listed] == ["pipe"]
        await asyncio.wait_for(storage.set_mtime(PurePosixPath("/pipe"), 1_000_000_000), ANSWER_WITHIN)
        assert (tmp_path / "pipe").stat().st_mtime == 1_000_000_000
    finally:
        storage.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"] and (tmp_path / "pipe").is_fifo()
