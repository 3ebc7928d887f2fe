"""Connection care: an idle connection that drops is noticed by the keep-alive NOOP (the
toolbar says so), the next command reconnects by itself into the same folder, and a
download cut by a lost connection reconnects and resumes with REST."""

from __future__ import annotations

import asyncio
import io
import os
import re
from pathlib import Path, PurePosixPath

import pytest

from aioftp_lite import LocalStorage, Server
from aioftp_lite.storage.base import FileReader
from client.repl import toolbar
from client.shell import Shell
from client.target import parse_target
from tests.support.files import sha
from tests.support.storage import SlowReader


class SlowDownloads(LocalStorage):
    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        return SlowReader(await super().open_read(path, offset))


@pytest.fixture
def tree(root: Path) -> Path:
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_bytes(os.urandom(5000))
    (root / "docs" / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    return root


async def until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_keep_alive_notices_and_the_next_command_reconnects(tree: Path, tmp_path: Path) -> None:
    first = Server(root=tree, host="127.0.0.1", port=0)
    await first.start()
    port = first.port
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err, local_dir=tmp_path, timeout=10)
    keep_alive = None
    try:
        await shell.open(parse_target(f"127.0.0.1:{port}/docs"))
        keep_alive = asyncio.create_task(shell.keep_alive(0.1))
        assert toolbar(shell)[0][1] == f" 127.0.0.1:{port}"
        await first.close(timeout=0)
        await until(lambda: shell.broken)  # nobody typed anything
        assert toolbar(shell)[0][1] == f" disconnected from 127.0.0.1:{port}: the next command reconnects"
        async with Server(root=tree, host="127.0.0.1", port=port):
            assert await shell.execute("get a.txt")
            assert shell.remote_cwd == "/docs" and not shell.broken
        assert err.getvalue() == ""
        assert f"reconnecting to 127.0.0.1:{port}…" in out.getvalue()
    finally:
        if keep_alive is not None:
            keep_alive.cancel()
        await shell.close()
    assert sha(tmp_path / "a.txt") == sha(tree / "docs" / "a.txt")


async def test_a_download_cut_by_a_lost_connection_resumes(tree: Path, tmp_path: Path) -> None:
    factory = lambda account: SlowDownloads(account.home, chunk_size=64 * 1024)
    first = Server(root=tree, host="127.0.0.1", port=0, storage_factory=factory)
    await first.start()
    port = first.port
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err, local_dir=tmp_path, timeout=10)
    shell.prefetch = False
    second = Server(root=tree, host="127.0.0.1", port=port)
    try:
        await shell.open(parse_target(f"127.0.0.1:{port}/docs"))
        task = asyncio.create_task(shell.execute("get big.bin"))
        partial = tmp_path / "big.bin"
        await until(lambda: partial.exists() and partial.stat().st_size > 100_000)
        await first.close(timeout=0)  # the server goes away mid-transfer ...
        await second.start()  # ... and comes back
        assert await asyncio.wait_for(task, 20), err.getvalue()
        assert re.fullmatch(r"get big\.bin: .*: reconnecting to resume\n", err.getvalue())
        assert re.search(r"^got big\.bin: .*, resumed at [\d.]+ (KiB|MiB)$", out.getvalue(), re.MULTILINE)
    finally:
        await shell.close()
        await second.close()
    assert sha(partial) == sha(tree / "docs" / "big.bin")
