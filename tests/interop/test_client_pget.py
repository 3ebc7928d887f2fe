"""pget -n N: ranges over N connections (REST offsets seen by the server), reassembled and
checksummed, resumed after an interruption; against our server and pyftpdlib."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
from pathlib import Path, PurePosixPath
from typing import ClassVar

import pytest

from aioftp_lite import LocalStorage, Server
from aioftp_lite.storage.base import FileReader
from client.pget import split
from client.shell import Shell
from client.target import parse_target
from tests.support.files import sha
from tests.support.processes import run_client
from tests.support.pyftpd import PASSWORD as PY_PASSWORD
from tests.support.pyftpd import USER as PY_USER
from tests.support.pyftpd import PyFtpd
from tests.support.storage import SlowReader

SIZE = 3 * 1024 * 1024 + 17


def test_split_covers_every_byte_once() -> None:
    for size, parts in ((SIZE, 4), (10, 3), (2, 8), (1, 1)):
        ranges = split(size, parts)
        assert ranges[0].start == 0 and ranges[-1].end == size
        assert all(a.end == b.start for a, b in itertools.pairwise(ranges))
        assert len(ranges) == min(parts, size) and all(r.end > r.start for r in ranges)


class Recording(LocalStorage):
    """Notes the offset of every download, and slows big.bin down when asked."""

    offsets: ClassVar[list[int]] = []
    slow = False

    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        Recording.offsets.append(offset)
        reader = await super().open_read(path, offset)
        return SlowReader(reader) if Recording.slow else reader


@pytest.fixture
async def recording(root: Path):  # type: ignore[no-untyped-def]
    Recording.offsets, Recording.slow = [], False
    factory = lambda account: Recording(account.home, chunk_size=64 * 1024)
    async with Server(root=root, host="127.0.0.1", port=0, storage_factory=factory) as running:
        yield running


async def test_pget_uses_n_ranges_and_checks_the_result(
    recording: Server, root: Path, tmp_path: Path
) -> None:
    (root / "big.bin").write_bytes(os.urandom(SIZE))
    status, out, err = await run_client(
        f"127.0.0.1:{recording.port}", "-c", "pget -n 4 big.bin", cwd=tmp_path
    )
    assert (status, err) == (0, "")
    assert sha(tmp_path / "big.bin") == sha(root / "big.bin")
    # The server offers HASH: one more read from 0, the server hashing the file for the check.
    assert sorted(Recording.offsets) == sorted([0, *(part.start for part in split(SIZE, 4))])
    assert f"big.bin: sha256 {sha(root / 'big.bin')} matches the server's" in out
    assert "on 4 connections" in out and not (tmp_path / ".big.bin.pget").exists()


async def test_an_interrupted_pget_resumes_each_range(recording: Server, root: Path, tmp_path: Path) -> None:
    (root / "big.bin").write_bytes(os.urandom(SIZE))
    Recording.slow = True
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err, local_dir=tmp_path, timeout=10)
    shell.prefetch = False
    try:
        await shell.open(parse_target(f"127.0.0.1:{recording.port}"))
        task = asyncio.create_task(shell.execute("pget -n 3 big.bin"))
        state = tmp_path / ".big.bin.pget"
        async with asyncio.timeout(10):
            while not (state.exists() and sum_done(state) > 300_000):
                await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert "interrupted with " in err.getvalue() and "the same pget resumes" in err.getvalue()
        kept = sum_done(state)
        assert 0 < kept < SIZE
        Recording.slow, Recording.offsets = False, []
        assert await shell.execute("pget -n 3 big.bin")
        assert ", resumed at " in out.getvalue()
        starts = [part.start for part in split(SIZE, 3)]
        resumed = sorted(Recording.offsets)
        resumed.remove(0)  # the server's HASH of the whole file, for the check at the end
        assert all(offset > start for offset, start in zip(resumed, starts, strict=True))
    finally:
        await shell.close()
    assert sha(tmp_path / "big.bin") == sha(root / "big.bin") and not state.exists()


def sum_done(state: Path) -> int:
    try:
        return sum(done for _, _, done in json.loads(state.read_text())["ranges"])
    except ValueError:  # caught while being replaced
        return 0


async def test_pget_on_pyftpdlib(pyftpd: PyFtpd, tmp_path: Path) -> None:
    (pyftpd.root / "big.bin").write_bytes(os.urandom(SIZE))
    url = f"ftp://{PY_USER}:{PY_PASSWORD.replace(' ', '%20')}@127.0.0.1:{pyftpd.port}"
    status, out, err = await run_client(url, "-c", "pget -n 3 big.bin copy.bin", cwd=tmp_path)
    assert (status, err) == (0, "") and "on 3 connections" in out
    assert sha(tmp_path / "copy.bin") == sha(pyftpd.root / "big.bin")
