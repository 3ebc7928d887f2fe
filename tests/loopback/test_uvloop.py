"""The server embedded in an application that runs on uvloop: uploads and downloads
still work (uvloop has no loop.sendfile, and its BufferedProtocol support differs, so
the server must pick its portable paths there)."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
from pathlib import Path

import pytest

from tests.support.threads import server_in_thread

uvloop = pytest.importorskip("uvloop", reason="uvloop is in the test extra; install it to run this test")


def test_transfers_on_uvloop(tmp_path: Path) -> None:
    with server_in_thread(tmp_path, uvloop.run) as port:
        payload = os.urandom(3 * 1024 * 1024 + 17)  # bigger than one chunk: not the small-file path
        client = ftplib.FTP(timeout=10)
        client.connect("127.0.0.1", port)
        client.login()
        client.storbinary("STOR up.bin", io.BytesIO(payload))
        received = io.BytesIO()
        client.retrbinary("RETR up.bin", received.write)
        client.quit()
    assert hashlib.sha256(received.getvalue()).digest() == hashlib.sha256(payload).digest()
    assert (tmp_path / "up.bin").read_bytes() == payload
