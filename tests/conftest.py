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
from tests.support.clients import PASSWORD, USER, connect_ftplib

pytest_plugins = ["tests.support.s3", "tests.support.redis"]  # SeaweedFS (S3 tests), redis-server (cluster tests)


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


@pytest.fixture
def ftp_factory(server: Server) -> Callable[..., ftplib.FTP]:
    return lambda **kwargs: connect_ftplib(server.port, **kwargs)
