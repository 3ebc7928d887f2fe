"""Shared fixtures: a real server task on 127.0.0.1, port 0, serving a temporary folder.

Tests that drive the server with blocking clients (ftplib, curl, lftp) run those
clients in a worker thread or a subprocess (`asyncio.to_thread`), so that the
server keeps running on the test's event loop meanwhile.
"""

from __future__ import annotations

import ftplib
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from aioftp_lite import Server
from aioftp_lite.auth import UserEntry

USER, PASSWORD = "alice", "s3cret pass"


def quick_hash(password: str) -> str:
    """A stored scrypt hash at N=2^10, which the server verifies by the parameters it carries:
    a few milliseconds, where the default N=2^14 costs every test that logs in ~40 ms at
    start (hashing `--user`) and again at its first login."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**10, r=8, p=1)
    return f"scrypt${2**10}$8$1${salt.hex()}${digest.hex()}"


ACCOUNTS = {USER: UserEntry(quick_hash(PASSWORD))}  # USER, as a config file's [[users]] entry

pytest_plugins = ["tests.s3_store", "tests.redis_store"]  # SeaweedFS (S3 tests), redis-server (cluster tests)


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
