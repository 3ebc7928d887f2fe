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

USER, PASSWORD = "alice", "s3cret pass"

pytest_plugins = ["tests.s3_store", "tests.redis_store"]  # SeaweedFS (S3 tests), redis-server (cluster tests)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


@pytest.fixture
async def server(root: Path) -> AsyncIterator[Server]:
    """Anonymous read-write plus one named user, on a free port."""
    async with Server(root=root, host="127.0.0.1", port=0, users={USER: PASSWORD}, anonymous="write") as running:
        yield running


def connect_ftplib(port: int, user: str = "anonymous", password: str = "guest@", host: str = "127.0.0.1",
                   timeout: float = 10) -> ftplib.FTP:  # fmt: skip
    """A logged-in ftplib client (blocking: call it from a worker thread)."""
    client = ftplib.FTP(timeout=timeout)
    client.connect(host, port)
    client.login(user, password)
    return client


@pytest.fixture
def ftp_factory(server: Server) -> Callable[..., ftplib.FTP]:
    return lambda **kwargs: connect_ftplib(server.port, **kwargs)
