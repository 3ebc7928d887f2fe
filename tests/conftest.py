"""Shared fixtures: a real server task on 127.0.0.1, port 0, serving a temporary folder.

Tests that drive the server with blocking clients (ftplib, curl, lftp) run those
clients in a worker thread or a subprocess (`asyncio.to_thread`), so that the
server keeps running on the test's event loop meanwhile.
"""

from __future__ import annotations

import ftplib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.clients import ACCOUNTS, connect_ftplib

# Fixtures of the shared support modules, for every test without an import: SeaweedFS (S3),
# redis-server (cluster), pyftpdlib and vsftpd (servers we did not write), TLS certificates.
pytest_plugins = [
    "tests.support.s3", "tests.support.redis", "tests.support.pyftpd", "tests.support.vsftpd", "tests.support.tls",
]  # fmt: skip


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


@pytest.fixture
async def server(root: Path) -> AsyncIterator[Server]:
    """Anonymous read-write plus one named user, on a free port."""
    async with Server(root=root, host="127.0.0.1", port=0, accounts=ACCOUNTS, anonymous="write") as running:
        yield running


@pytest.fixture
def ftp_factory(server: Server) -> Callable[..., ftplib.FTP]:
    return lambda **kwargs: connect_ftplib(server.port, **kwargs)
