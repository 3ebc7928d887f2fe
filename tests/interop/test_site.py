"""SITE CHMOD / SITE HELP and MFMT: the metadata commands that mirroring clients send.

lftp's `mirror -R` sends them after each upload; with `-v` it fails the run when they are
refused, so they are checked with lftp itself as well as with ftplib.
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import os
import stat
from pathlib import Path

import pytest

from aioftp_lite import MemoryStorage, Server
from tests.support.clients import PASSWORD, USER, connect_ftplib
from tests.support.tools import LFTP, lftp


def _codes(port: int, commands: list[str]) -> list[str]:
    client = connect_ftplib(port)
    client.storbinary("STOR f.txt", io.BytesIO(b"data"))
    replies = []
    for command in commands:
        try:
            replies.append(client.sendcmd(command))
        except ftplib.Error as error:
            replies.append(str(error))
    client.quit()
    return replies


async def test_site_chmod_and_mfmt_change_the_file(server: Server, root: Path) -> None:
    replies = await asyncio.to_thread(
        _codes, server.port,
        ["SITE CHMOD 640 f.txt", "MFMT 20010909014640 f.txt", "MDTM f.txt", "SITE HELP",
         "SITE CHMOD 4755 f.txt", "SITE CHMOD rwx f.txt", "SITE CHMOD 644 nope.txt", "MFMT yesterday f.txt",
         "SITE EXEC ls"],
    )  # fmt: skip
    codes = [reply[:3] for reply in replies]
    assert codes == ["200", "213", "213", "214", "200", "501", "550", "501", "502"], replies
    assert replies[2] == "213 20010909014640"
    status = (root / "f.txt").stat()
    assert status.st_mtime == 1_000_000_000
    # setuid was asked for (4755) and refused silently: only the permission bits change.
    assert stat.S_IMODE(status.st_mode) == 0o755


async def test_read_only_refuses_metadata_changes(root: Path) -> None:
    (root / "keep.txt").write_bytes(b"x")
    os.utime(root / "keep.txt", (1_000_000_000, 1_000_000_000))
    async with Server(root=root, port=0, read_only=True) as server:

        def attempt() -> list[str]:
            client = connect_ftplib(server.port)
            out = []
            for command in ("SITE CHMOD 777 keep.txt", "MFMT 20200101000000 keep.txt"):
                try:
                    out.append(client.sendcmd(command))
                except ftplib.error_perm as error:
                    out.append(str(error))
            client.quit()
            return out

        replies = await asyncio.to_thread(attempt)
    assert [r[:3] for r in replies] == ["550", "550"], replies
    assert (root / "keep.txt").stat().st_mtime == 1_000_000_000


async def test_mfmt_on_the_memory_backend(root: Path) -> None:
    storage = MemoryStorage()
    async with Server(root=root, port=0, storage_factory=lambda account: storage) as server:
        replies = await asyncio.to_thread(_codes, server.port, ["MFMT 20010909014640 f.txt", "MDTM f.txt"])
    assert replies == ["213 Modify=20010909014640; /f.txt", "213 20010909014640"]


@pytest.mark.skipif(LFTP is None, reason="lftp is not installed (apt-get install lftp)")
async def test_lftp_reverse_mirror_verbose_keeps_times_and_modes(
    server: Server, root: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "script.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (source / "script.sh").chmod(0o750)
    os.utime(source / "script.sh", (1_000_000_000, 1_000_000_000))
    # -v makes lftp fail the run if SITE CHMOD or MFMT is refused.
    await lftp(server.port, f"mirror -R -v {source} up", tmp_path, USER, PASSWORD)
    uploaded = root / "up" / "script.sh"
    assert uploaded.read_bytes() == (source / "script.sh").read_bytes()
    assert uploaded.stat().st_mtime == 1_000_000_000
    assert stat.S_IMODE(uploaded.stat().st_mode) == 0o750
