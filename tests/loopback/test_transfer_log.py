"""The transfer log line names how the bytes moved (the strategy), over a real server."""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path

import pytest

from aioftp_lite import MemoryStorage, Server
from tests.support.clients import connect_ftplib
from tests.support.threads import in_thread


def _strategies(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    found = {}
    for record in caplog.records:
        match = re.search(r" (\w+ /\S*): \d+ bytes in [\d.]+s, 226 .*\[(\w+)\]$", record.getMessage())
        if match:
            found[match[1]] = match[2]
    return found


async def test_the_log_line_names_each_transfer_strategy(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (root / "big.bin").write_bytes(os.urandom(300_000))
    (root / "lines.txt").write_bytes(b"line\n" * 1000)

    def session(port: int) -> None:
        client = connect_ftplib(port)
        client.retrbinary("RETR big.bin", lambda _data: None)
        client.retrlines("RETR lines.txt", lambda _line: None)  # TYPE A
        client.storbinary("STOR up.bin", io.BytesIO(b"x" * 100_000))
        client.storbinary("APPE up.bin", io.BytesIO(b"y" * 1000))  # O_APPEND: no splice
        client.storlines("STOR text.txt", io.BytesIO(b"a\r\nb\r\n"))
        client.retrlines("LIST", lambda _line: None)
        client.quit()

    with caplog.at_level(logging.INFO, logger="aioftp_lite.session"):
        async with Server(root=root, host="127.0.0.1", port=0) as server:
            await in_thread(lambda: session(server.port))
    splice = "splice" if hasattr(os, "splice") else "blocks"
    assert _strategies(caplog) == {
        "RETR /big.bin": "sendfile",
        "RETR /lines.txt": "stream",
        "STOR /up.bin": splice,
        "APPE /up.bin": "blocks",
        "STOR /text.txt": "stream",
        "LIST /": "lines",
    }


async def test_a_backend_without_local_files_streams_downloads(caplog: pytest.LogCaptureFixture) -> None:
    storage = MemoryStorage()

    def session(port: int) -> bytes:
        client = connect_ftplib(port)
        client.storbinary("STOR m.bin", io.BytesIO(b"m" * 70_000))
        out = io.BytesIO()
        client.retrbinary("RETR m.bin", out.write)
        client.quit()
        return out.getvalue()

    with caplog.at_level(logging.INFO, logger="aioftp_lite.session"):
        async with Server(host="127.0.0.1", port=0, storage_factory=lambda _account: storage) as server:
            assert await in_thread(lambda: session(server.port)) == b"m" * 70_000
    assert _strategies(caplog) == {"STOR /m.bin": "blocks", "RETR /m.bin": "stream"}
