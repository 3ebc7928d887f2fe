"""Wildcards in NLST and LIST (issue 17, point 1): the matcher on strings, the server with
ftplib and raw sockets, and `mget`/`mdelete` in tnftp and inetutils-ftp on real files."""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import pytest

from aioftp_lite import Server
from aioftp_lite.protocol.listing import FileInfo
from aioftp_lite.protocol.wildcards import compile_pattern, has_wildcard, split_pattern
from aioftp_lite.storage import MemoryStorage
from tests.support.clients import code_of, connect_ftplib, list_lines, list_name
from tests.support.control import RawControl, receive_all
from tests.support.threads import in_thread

TNFTP = shutil.which("tnftp")
INETUTILS_FTP = shutil.which("inetutils-ftp")
CLIENT_TIMEOUT = 30


# --- the matcher ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*.log", "a.log", True), ("*.log", "a.log.gz", False), ("*.log", ".log", True),
        ("n*.txt", "notes.txt", True), ("n*.txt", "a-notes.txt", False),
        ("?.txt", "a.txt", True), ("?.txt", "ab.txt", False), ("?", "", False),
        ("[ab]*", "bz", True), ("[ab]*", "cz", False), ("[!ab]*", "cz", True), ("[^ab]*", "az", False),
        ("[a-c]x", "bx", True), ("[a-c]x", "dx", False), ("[]x]", "]", True),
        ("a*b*c", "aXbYc", True), ("a*b*c", "aXbY", False), ("*", "", True), ("**", "x", True),
        ("a[b", "a[b", True), ("a[b", "ab", False), ("*.TXT", "a.txt", False),
        ("caf\u00e9*", "caf\u00e9.txt", True), ("[z-a]", "m", False), ("[!z-a]", "m", True),
        ("a-[b-]", "a--", True), ("[\\]", "\\", True), ("*.*.*", "a.b", False), ("*.*.*", "a.b.c", True),
    ],
)  # fmt: skip
def test_patterns_match_as_in_the_shell(pattern: str, name: str, expected: bool) -> None:
    assert compile_pattern(pattern)(name) is expected


def test_what_counts_as_a_pattern() -> None:
    assert has_wildcard("*.log") and has_wildcard("a?") and has_wildcard("[ab]")
    assert not has_wildcard("plain.txt") and not has_wildcard("a[b") and not has_wildcard("")
    assert split_pattern("logs/2024/*.txt") == ("logs/2024/", "*.txt")
    assert split_pattern("*.txt") == ("", "*.txt")


def test_a_hostile_pattern_costs_no_exponential_time() -> None:
    # A backtracking regular expression needs ~255^20 steps here; the matcher needs ~5,000.
    assert compile_pattern("*a" * 20 + "b")("a" * 255) is False


# --- the server, with ftplib ----------------------------------------------------------------
def _files(root: Path) -> None:
    for name in ("a.log", "b.log", "notes.txt", "n2.txt", "other.txt", ".hidden.log", "[x].txt", "x.txt"):
        (root / name).write_bytes(f"content of {name}\n".encode())
    (root / "logs").mkdir()
    for name in ("s1.log", "s2.txt"):
        (root / "logs" / name).write_bytes(name.encode())


async def test_nlst_and_list_expand_wildcards(
    server: Server, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _files(root)
    caplog.set_level(logging.INFO, logger="aioftp_lite.session")

    def session() -> dict[str, object]:
        client = connect_ftplib(server.port)
        out: dict[str, object] = {
            "nlst_log": client.nlst("*.log"),
            "list_n": [list_name(line) for line in list_lines(client, "LIST n*.txt")],
            "list_la": [list_name(line) for line in list_lines(client, "LIST -la ?.log")],
            "nlst_sub": client.nlst("logs/*.txt"),
            "nlst_abs": client.nlst("/logs/s[0-9].*"),
            "nlst_set": client.nlst("[ab].log"),
            "literal": client.nlst("[x].txt"),  # exists as typed: not the pattern (which would be x.txt)
            "none": client.nlst("*.nope"),
            "missing": code_of(client, "NOOP"),
        }
        try:
            client.nlst("nodir/*.log")
        except ftplib.error_perm as error:
            out["missing"] = str(error)
        client.cwd("logs")
        out["relative"] = client.nlst("../*.log")
        client.quit()
        return out

    out = await in_thread(session)
    assert out["nlst_log"] == ["a.log", "b.log"]  # the dotfile is not listed (no --show-hidden)
    assert out["list_n"] == ["n2.txt", "notes.txt"]
    assert out["list_la"] == ["a.log", "b.log"]
    assert out["nlst_sub"] == ["logs/s2.txt"]
    assert out["nlst_abs"] == ["/logs/s1.log", "/logs/s2.txt"]
    assert out["nlst_set"] == ["a.log", "b.log"]
    assert out["literal"] == ["[x].txt"]
    assert out["none"] == []
    assert out["missing"] == "550 No such file or directory"
    assert out["relative"] == ["../a.log", "../b.log"]
    # A refused listing is logged as a refused RETR is.
    assert any("NLST nodir/*.log: 550 No such file or directory" in r.getMessage() for r in caplog.records)


async def test_patterns_see_dotfiles_only_with_show_hidden(root: Path) -> None:
    _files(root)
    async with Server(root=root, port=0, show_hidden=True) as server:
        names = await in_thread(lambda: connect_ftplib(server.port).nlst("*.log"))
    assert names == [".hidden.log", "a.log", "b.log"]


async def test_a_pattern_over_a_huge_folder_streams(root: Path) -> None:
    """The first names arrive while the folder is still being read; the server then waits
    on the slow reader (back-pressure) instead of reading the rest of the folder into memory."""
    storage = CountingStorage()
    count = 50_000
    # ~200 bytes per name: 10 MB of names, more than the socket buffers can hold (tcp_wmem's
    # maximum is 4 MiB by default), so the server must wait for the reader to go on.
    filler = "x" * 190
    for i in range(count):
        await storage.mkdir(PurePosixPath(f"/d{i:06d}{filler}.log"))
    await storage.mkdir(PurePosixPath("/skip.txt"))
    async with Server(root=root, port=0, storage_factory=lambda account: storage) as server:

        def session() -> tuple[int, int]:
            control = RawControl(server.port)
            control.login()
            data = control.open_epsv()
            control.send("NLST *.log")
            assert control.read_reply().code == 150
            first = data.recv(100)
            assert first.startswith(b"d000000")
            seen_early = storage.batches  # how far the folder was read when the first names came
            rest = receive_all(data)
            data.close()
            assert control.read_reply().code == 226
            control.close()
            return seen_early, len((first + rest).split(b"\r\n")) - 1

        seen_early, lines = await in_thread(session)
    assert lines == count
    total_batches = (count + 1 + 1023) // 1024  # SCAN_BATCH entries each
    assert seen_early < total_batches, (seen_early, total_batches)


class CountingStorage(MemoryStorage):
    """The memory backend, counting the batches its folder scan has handed out."""

    batches = 0

    async def scan_dir(self, path: PurePosixPath, batch: int = 1024) -> AsyncIterator[list[FileInfo]]:
        async for entries in super().scan_dir(path, batch):
            self.batches += 1
            yield entries


# --- mget and mdelete in the classic clients --------------------------------------------------
async def run_classic_client(program: str, port: int, script: list[str], workdir: Path) -> str:
    """Run tnftp or inetutils-ftp with commands on standard input; returns its output."""
    lines = [f"open 127.0.0.1 {port}", "user anonymous guest@", "binary", "prompt", *script, "bye"]
    process = await asyncio.create_subprocess_exec(
        program, "-n", "-p", cwd=workdir,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(
            process.communicate("\n".join(lines).encode() + b"\n"), CLIENT_TIMEOUT
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{program} did not finish within {CLIENT_TIMEOUT} s") from None
    assert process.returncode == 0, output
    return output.decode(errors="replace")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "program",
    [
        pytest.param(TNFTP, marks=pytest.mark.skipif(TNFTP is None, reason="apt-get install tnftp"), id="tnftp"),
        pytest.param(INETUTILS_FTP, marks=pytest.mark.skipif(INETUTILS_FTP is None,
                     reason="apt-get install inetutils-ftp"), id="inetutils-ftp"),
    ],
)  # fmt: skip
async def test_mget_and_mdelete_in_the_classic_clients(
    program: str, server: Server, root: Path, tmp_path: Path
) -> None:
    for i in range(3):
        (root / f"day{i}.log").write_bytes(bytes([i]) * (70_000 + i))  # binary, more than one chunk
    (root / "keep.txt").write_bytes(b"keep")
    (root / "tmp1.bak").write_bytes(b"1")
    (root / "tmp2.bak").write_bytes(b"2")
    local = tmp_path / "local"
    local.mkdir()
    output = await run_classic_client(
        program, server.port, ["mget day?.log", "mdelete *.bak", "mget *.none"], local
    )
    assert sorted(p.name for p in local.iterdir()) == ["day0.log", "day1.log", "day2.log"], output
    for i in range(3):
        assert _digest(local / f"day{i}.log") == _digest(root / f"day{i}.log")
    assert sorted(p.name for p in root.iterdir()) == ["day0.log", "day1.log", "day2.log", "keep.txt"], output
