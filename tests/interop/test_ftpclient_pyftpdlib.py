"""FTPClient against pyftpdlib, a server we did not write, in a background thread on 127.0.0.1.

pyftpdlib's own event loop runs in its thread; our client runs on the test's asyncio loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("pyftpdlib", reason="pyftpdlib is in the test extra")


from aioftp_lite import FTPClient, FTPReplyError
from tests.support.pyftpd import PASSWORD, TIMEOUT, USER, PyFtpd


@pytest.fixture
async def client(pyftpd: PyFtpd) -> AsyncIterator[FTPClient]:
    async with FTPClient("127.0.0.1", pyftpd.port, timeout=TIMEOUT, user=USER, password=PASSWORD) as ftp:
        yield ftp


def payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_login_pwd_cwd_and_bad_password(pyftpd: PyFtpd) -> None:
    (pyftpd.root / "sub dir").mkdir()
    async with FTPClient("127.0.0.1", pyftpd.port, timeout=TIMEOUT, user=USER, password=PASSWORD) as ftp:
        assert "MLST" in ftp.features and "UTF8" in ftp.features
        assert await ftp.pwd() == "/"
        await ftp.cwd("sub dir")
        assert await ftp.pwd() == "/sub dir"
        await ftp.cdup()
        assert await ftp.pwd() == "/"
    with pytest.raises(FTPReplyError) as refused:
        async with FTPClient("127.0.0.1", pyftpd.port, timeout=TIMEOUT, user=USER, password="nope"):
            pass
    assert refused.value.reply.code == 530
    async with FTPClient("127.0.0.1", pyftpd.port, timeout=TIMEOUT) as anonymous:
        assert anonymous.user == "anonymous" and await anonymous.pwd() == "/"


async def test_mlsd_and_parsed_list_agree_including_symlinks(client: FTPClient, pyftpd: PyFtpd) -> None:
    names = ["plain.txt", "two  spaces.bin", "été ü.txt"]
    for index, name in enumerate(names):
        (pyftpd.root / name).write_bytes(payload(1000 * index + 3, seed=index))
    (pyftpd.root / "folder").mkdir()
    os.symlink("plain.txt", pyftpd.root / "link to plain")

    by_mlsd = {e.name: e for e in await client.list()}
    client.use_mlsd = False
    by_list = {e.name: e for e in await client.list()}  # pyftpdlib's `ls -l` lines, parsed
    assert set(by_mlsd) == set(by_list) == {*names, "folder", "link to plain"}
    for name in names:
        on_disk = (pyftpd.root / name).stat()
        for entry in (by_mlsd[name], by_list[name]):
            assert not entry.is_dir and entry.size == on_disk.st_size
            assert entry.mtime is not None and abs(entry.mtime - on_disk.st_mtime) < 61
    assert by_mlsd["folder"].is_dir and by_list["folder"].is_dir
    link = by_list["link to plain"]
    assert link.is_link and link.facts["link"] == "plain.txt"
    assert sorted(await client.names()) == sorted([*names, "folder", "link to plain"])


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
async def test_upload_and_download_with_progress(client: FTPClient, pyftpd: PyFtpd, tmp_path: Path,
                                                 passive: bool) -> None:  # fmt: skip
    client.passive = passive
    data = payload(2 * 1024 * 1024 + 99)
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    progress: list[int] = []
    with local.open("rb") as source:
        assert await client.upload(source, "up loaded.bin", progress=progress.append) == len(data)
    assert progress[-1] == len(data) and progress == sorted(progress)
    assert sha256((pyftpd.root / "up loaded.bin").read_bytes()) == sha256(data)

    progress.clear()
    back = tmp_path / "back.bin"
    with back.open("wb") as sink:
        assert await client.download("up loaded.bin", sink, progress=progress.append) == len(data)
    assert progress[-1] == len(data) and sha256(back.read_bytes()) == sha256(data)


async def test_resume_by_offset_both_ways(client: FTPClient, pyftpd: PyFtpd, tmp_path: Path) -> None:
    data = payload(700_000, seed=8)
    half = 300_001
    (pyftpd.root / "full.bin").write_bytes(data)
    partial = tmp_path / "partial.bin"
    partial.write_bytes(data[:half])
    with partial.open("r+b") as sink:
        assert await client.download("full.bin", sink, offset=half) == len(data) - half
    assert sha256(partial.read_bytes()) == sha256(data)

    (pyftpd.root / "resumed.bin").write_bytes(data[:half])
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    with local.open("rb") as source:
        assert await client.upload(source, "resumed.bin", offset=half) == len(data) - half
    assert sha256((pyftpd.root / "resumed.bin").read_bytes()) == sha256(data)

    (pyftpd.root / "appended.bin").write_bytes(data[:half])
    with local.open("rb") as source:
        await client.upload(source, "appended.bin", offset=half, append=True)
    assert sha256((pyftpd.root / "appended.bin").read_bytes()) == sha256(data)


async def test_file_commands_and_errors(client: FTPClient, pyftpd: PyFtpd) -> None:
    assert await client.mkdir("new dir") == "/new dir"
    (pyftpd.root / "new dir" / "a.txt").write_bytes(b"abcdef")
    assert await client.size("new dir/a.txt") == 6
    assert (
        abs(await client.mtime("new dir/a.txt") - (pyftpd.root / "new dir" / "a.txt").stat().st_mtime) < 1.01
    )
    await client.rename("new dir/a.txt", "b.txt")
    assert (pyftpd.root / "b.txt").read_bytes() == b"abcdef"
    await client.delete("b.txt")
    await client.rmdir("new dir")
    assert sorted(p.name for p in pyftpd.root.iterdir()) == []

    with pytest.raises(FTPReplyError) as missing:
        await client.size("nothing.bin")
    assert missing.value.reply.code == 550 and str(missing.value).startswith("550 ")
    with pytest.raises(FTPReplyError) as missing_dir:
        await client.cwd("nowhere")
    assert missing_dir.value.reply.code == 550
    assert await client.pwd() == "/"


async def test_cancelled_download_leaves_connection_usable(client: FTPClient, pyftpd: PyFtpd,
                                                           tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                           ) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="aioftp_lite.client")
    data = payload(24 * 1024 * 1024, seed=9)
    (pyftpd.root / "big.bin").write_bytes(data)
    positions: list[int] = []
    task: asyncio.Task[int]

    def progress(position: int) -> None:
        if not positions:
            task.cancel()
        positions.append(position)

    with (tmp_path / "partial.bin").open("wb") as sink:
        task = asyncio.create_task(client.download("big.bin", sink, progress=progress))
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
    assert 0 < positions[0] < len(data)
    sent = [r.getMessage().split(" >>> ")[1] for r in caplog.records if " >>> " in r.getMessage()]
    assert sent[-3:] == ["RETR big.bin", "ABOR", "NOOP"]
    assert client.connected and await client.pwd() == "/"
    with (tmp_path / "complete.bin").open("wb") as sink:
        await client.download("big.bin", sink)
    assert sha256((tmp_path / "complete.bin").read_bytes()) == sha256(data)


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
async def test_fallbacks_on_a_server_without_rfc2428_and_rfc3659(old_pyftpd: PyFtpd, tmp_path: Path,
                                                                 passive: bool,
                                                                 caplog: pytest.LogCaptureFixture
                                                                 ) -> None:  # fmt: skip
    """No EPSV/EPRT: PASV/PORT, remembered after the first refusal; no MLSD: LIST, parsed."""
    caplog.set_level(logging.DEBUG, logger="aioftp_lite.client")
    data = payload(300_000, seed=10)
    (old_pyftpd.root / "a b.bin").write_bytes(data)
    (old_pyftpd.root / "docs").mkdir()
    async with FTPClient("127.0.0.1", old_pyftpd.port, timeout=TIMEOUT, user=USER, password=PASSWORD,
                         passive=passive) as ftp:  # fmt: skip
        assert "MLST" not in ftp.features
        entries = {e.name: e for e in await ftp.list()}
        assert entries["a b.bin"].size == len(data) and not entries["a b.bin"].is_dir
        assert entries["docs"].is_dir
        for _ in range(2):
            with (tmp_path / "copy.bin").open("wb") as sink:
                await ftp.download("a b.bin", sink)
            assert sha256((tmp_path / "copy.bin").read_bytes()) == sha256(data)
    sent = [
        r.getMessage().split(" >>> ")[1].split(" ")[0] for r in caplog.records if " >>> " in r.getMessage()
    ]
    extended, classic = ("EPSV", "PASV") if passive else ("EPRT", "PORT")
    assert sent.count(extended) == 1 and sent.count(classic) == 3  # tried once, then remembered
    assert "MLSD" not in sent and "LIST" in sent
