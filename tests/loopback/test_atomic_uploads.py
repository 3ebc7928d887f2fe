"""Issue 2, point 4: uploads are atomic. A client that vanishes in the middle of a STOR
(FIN or RST, control or data first) leaves the old file byte-identical, nothing under
the final name, and no temporary file once the server noticed.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aioftp_lite import Server
from aioftp_lite.storage import FileWriter, LocalStorage, WriteMode
from tests.support.clients import connect_ftplib
from tests.support.control import RawControl
from tests.support.threads import in_thread

ORIGINAL = os.urandom(1024 * 1024)


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _interrupted_upload(port: int, root: Path, name: str, how: str) -> dict:
    client = connect_ftplib(port)
    client.voidcmd("TYPE I")
    channel = client.transfercmd(f"STOR {name}")
    channel.sendall(os.urandom(3 * 1024 * 1024))  # more than one disk-write block (1 MiB)
    # The partial upload exists somewhere under another name while it runs...
    started = _wait_for(lambda: any(p.name != name and p.stat().st_size > 0 for p in root.iterdir()))
    # ...and is invisible to other clients meanwhile.
    observer = connect_ftplib(port)
    during = {"nlst": sorted(observer.nlst()), "mlsd": sorted(n for n, _ in observer.mlsd())}
    if name == "target.bin":
        received = io.BytesIO()
        observer.retrbinary("RETR target.bin", received.write)
        during["old content"] = received.getvalue() == ORIGINAL
    observer.quit()
    if how == "fin":
        client.close()  # control first: the client vanished, it did not finish
        channel.close()
    elif how == "rst control first":
        _reset(client.sock)
        client.close()
        _reset(channel)
    else:  # "rst data first"
        _reset(channel)
        _reset(client.sock)
        client.close()
    expected = ["target.bin"]
    settled = _wait_for(lambda: sorted(os.listdir(root)) == expected)
    return {"started": started, "during": during, "settled": settled, "left": sorted(os.listdir(root))}


@pytest.mark.parametrize("how", ["fin", "rst control first", "rst data first"])
async def test_interrupted_stor_leaves_the_old_file_intact(server: Server, root: Path, how: str) -> None:
    (root / "target.bin").write_bytes(ORIGINAL)
    out = await in_thread(lambda: _interrupted_upload(server.port, root, "target.bin", how))
    assert out["started"], "the upload never began writing"
    assert out["during"] == {"nlst": ["target.bin"], "mlsd": ["target.bin"], "old content": True}
    assert out["settled"], f"left behind: {out['left']}"
    assert (root / "target.bin").read_bytes() == ORIGINAL


async def test_interrupted_stor_of_a_new_file_leaves_nothing(server: Server, root: Path) -> None:
    (root / "target.bin").write_bytes(ORIGINAL)  # an unrelated file that must stay
    out = await in_thread(lambda: _interrupted_upload(server.port, root, "fresh.bin", "fin"))
    assert out["started"] and out["settled"], out["left"]
    assert out["during"]["nlst"] == ["target.bin"]
    assert (root / "target.bin").read_bytes() == ORIGINAL


async def test_data_reset_with_control_open_answers_426(server: Server, root: Path) -> None:
    (root / "target.bin").write_bytes(ORIGINAL)

    def session() -> tuple[int, int, bool]:
        raw = RawControl(server.port)
        raw.login()
        assert raw.command("TYPE I").code == 200
        channel = raw.open_epsv()
        assert raw.command("STOR target.bin").code == 150
        channel.sendall(b"half an upload" * 10_000)
        _reset(channel)
        final = raw.read_reply().code
        noop = raw.command("NOOP").code
        raw.close()
        settled = _wait_for(lambda: os.listdir(root) == ["target.bin"])
        return final, noop, settled

    final, noop, settled = await in_thread(session)
    assert final == 426 and noop == 200 and settled
    assert (root / "target.bin").read_bytes() == ORIGINAL


class SlowAbortWriter(FileWriter):
    """A real local upload whose clean-up takes a while, so a cancel can land inside it."""

    def __init__(self, inner: FileWriter, started: threading.Event) -> None:
        self._inner, self._started = inner, started

    async def write(self, chunk: bytes) -> None:
        await self._inner.write(chunk)

    async def commit(self) -> None:
        await self._inner.commit()

    async def abort(self) -> None:
        self._started.set()
        await asyncio.sleep(0.3)
        await self._inner.abort()


class SlowAbortStorage(LocalStorage):
    def __init__(self, root: Path, started: threading.Event) -> None:
        super().__init__(root)
        self._started = started

    async def open_write(self, path, mode=WriteMode.REPLACE, offset=0) -> FileWriter:
        return SlowAbortWriter(await super().open_write(path, mode, offset), self._started)


@pytest.mark.parametrize("then", ["ABOR", "control reset"])
async def test_cancel_during_upload_cleanup_still_removes_the_temporary_file(root: Path, then: str) -> None:
    """A failed upload is being cleaned up when ABOR (or the client's end) cancels it."""
    (root / "target.bin").write_bytes(ORIGINAL)
    started = threading.Event()
    storage = SlowAbortStorage(root, started)
    async with Server(
        root=root, host="127.0.0.1", port=0, storage_factory=lambda _account: storage
    ) as server:

        def session() -> list[int]:
            raw = RawControl(server.port)
            raw.login()
            assert raw.command("TYPE I").code == 200
            channel = raw.open_epsv()
            assert raw.command("STOR target.bin").code == 150
            channel.sendall(os.urandom(200_000))
            _reset(channel)  # the upload fails: its clean-up starts...
            assert started.wait(5)
            codes = []
            if then == "ABOR":  # ...and is cancelled half-way
                raw.send("ABOR")
                codes = [raw.read_reply().code, raw.read_reply().code, raw.command("NOOP").code]
                raw.close()
            else:
                _reset(raw.sock)
            return codes

        codes = await in_thread(session)
        settled = await in_thread(lambda: _wait_for(lambda: os.listdir(root) == ["target.bin"]))
    assert settled, os.listdir(root)
    assert (root / "target.bin").read_bytes() == ORIGINAL
    if then == "ABOR":
        assert codes[0] == 426 and codes[1] in (225, 226) and codes[2] == 200


async def test_abor_during_stor_keeps_the_old_file(server: Server, root: Path) -> None:
    (root / "target.bin").write_bytes(ORIGINAL)

    def session() -> tuple[list[int], bool, bool]:
        raw = RawControl(server.port)
        raw.login()
        assert raw.command("TYPE I").code == 200
        channel = raw.open_epsv()
        assert raw.command("STOR target.bin").code == 150
        channel.sendall(os.urandom(500_000))
        started = _wait_for(lambda: len(os.listdir(root)) == 2)  # the temporary file is there
        raw.send("ABOR")
        codes = [raw.read_reply().code, raw.read_reply().code, raw.command("NOOP").code]
        channel.close()
        raw.close()
        return codes, started, _wait_for(lambda: os.listdir(root) == ["target.bin"])

    codes, started, settled = await in_thread(session)
    assert started and settled and codes == [426, 226, 200]
    assert (root / "target.bin").read_bytes() == ORIGINAL
