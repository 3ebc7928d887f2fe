"""The server embedded in an application that runs on uvloop: uploads and downloads
still work (uvloop has no loop.sendfile, and its BufferedProtocol support differs, so
the server must pick its portable paths there)."""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from aioftp_lite import Server

uvloop = pytest.importorskip("uvloop", reason="uvloop is in the test extra; install it to run this test")


def test_transfers_on_uvloop(tmp_path: Path) -> None:
    ready: list[int] = []
    stop = threading.Event()

    async def serve() -> None:
        async with Server(root=tmp_path, host="127.0.0.1", port=0) as server:
            ready.append(server.port)
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=lambda: uvloop.run(serve()), daemon=True)
    thread.start()
    try:
        for _ in range(250):
            if ready:
                break
            threading.Event().wait(0.02)
        assert ready, "the server did not start on uvloop"
        payload = os.urandom(3 * 1024 * 1024 + 17)  # bigger than one chunk: not the small-file path
        client = ftplib.FTP(timeout=10)
        client.connect("127.0.0.1", ready[0])
        client.login()
        client.storbinary("STOR up.bin", io.BytesIO(payload))
        received = io.BytesIO()
        client.retrbinary("RETR up.bin", received.write)
        client.quit()
        assert hashlib.sha256(received.getvalue()).digest() == hashlib.sha256(payload).digest()
        assert (tmp_path / "up.bin").read_bytes() == payload
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
