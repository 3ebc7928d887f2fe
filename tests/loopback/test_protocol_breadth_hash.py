"""Checksums without a download (issue 17, point 3): HASH with OPTS HASH and its FEAT line,
the X commands WinSCP sends, the size limit, ABOR, and one hash at a time per session."""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path, PurePosixPath

from aioftp_lite import MemoryStorage, Server
from aioftp_lite.storage.base import FileReader
from tests.support.control import RawControl
from tests.support.storage import SlowReader
from tests.support.threads import in_thread


def _digests(data: bytes) -> dict[str, str]:
    return {
        "SHA-1": hashlib.sha1(data).hexdigest(), "SHA-256": hashlib.sha256(data).hexdigest(),
        "SHA-512": hashlib.sha512(data).hexdigest(), "MD5": hashlib.md5(data).hexdigest(),
        "CRC32": f"{zlib.crc32(data):08x}",
    }  # fmt: skip


async def test_hash_and_the_x_commands_agree_with_hashlib(server: Server, root: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)  # several blocks and a ragged end
    (root / "big file.bin").write_bytes(data)
    (root / "empty").write_bytes(b"")
    (root / "dir").mkdir()
    expected = _digests(data)

    def session() -> dict[str, str]:
        raw = RawControl(server.port)
        raw.login()
        out = {"feat": next(line.strip() for line in raw.command("FEAT").lines if "HASH" in line)}
        out["default"] = raw.command("HASH big file.bin").text
        for algorithm in ("SHA-1", "sha-512", "md5", "CRC32", "SHA256"):
            out[f"opts {algorithm}"] = raw.command(f"OPTS HASH {algorithm}").text
            out[f"hash {algorithm}"] = raw.command("HASH big file.bin").text
        out["feat after"] = next(line.strip() for line in raw.command("FEAT").lines if "HASH" in line)
        out["unknown"] = raw.command("OPTS HASH SHA-3").text
        out["shown"] = raw.command("OPTS HASH").text
        for verb in ("XSHA256", "XSHA1", "XSHA512", "XMD5", "XCRC"):
            out[verb] = raw.command(f"{verb} big file.bin").text
        out["empty"] = raw.command("HASH empty").text
        out["dir"] = raw.command("HASH dir").text
        out["missing"] = raw.command("XMD5 nope").text
        raw.close()
        return out

    out = await in_thread(session)
    assert out["feat"] == "HASH SHA-1;SHA-256*;SHA-512;MD5;CRC32"
    assert out["default"] == f"213 SHA-256 0-{len(data)} {expected['SHA-256']} big file.bin"
    for asked, name in (("SHA-1", "SHA-1"), ("sha-512", "SHA-512"), ("md5", "MD5"), ("CRC32", "CRC32"),
                        ("SHA256", "SHA-256")):  # fmt: skip
        assert out[f"opts {asked}"] == f"200 {name}"
        assert out[f"hash {asked}"] == f"213 {name} 0-{len(data)} {expected[name]} big file.bin"
    assert out["feat after"] == "HASH SHA-1;SHA-256*;SHA-512;MD5;CRC32"  # back to SHA-256 last
    assert out["unknown"] == "501 Unknown algorithm, current selection not changed"
    assert out["shown"] == "200 SHA-256"
    for verb, name in (("XSHA256", "SHA-256"), ("XSHA1", "SHA-1"), ("XSHA512", "SHA-512"), ("XMD5", "MD5"),
                       ("XCRC", "CRC32")):  # fmt: skip
        assert out[verb] == f"250 {expected[name]}"
    assert out["empty"] == f"213 SHA-256 0-0 {hashlib.sha256(b'').hexdigest()} empty"
    assert out["dir"] == "550 Is a directory"
    assert out["missing"] == "550 No such file or directory"


async def test_files_over_the_hash_limit_are_refused(root: Path) -> None:
    (root / "small.txt").write_bytes(b"x" * 1000)
    (root / "large.txt").write_bytes(b"x" * 1001)
    async with Server(root=root, port=0, max_hash_size=1000) as server:

        def session() -> list[str]:
            raw = RawControl(server.port)
            raw.login()
            replies = [raw.command(line).text for line in ("XSHA1 small.txt", "HASH large.txt", "NOOP")]
            raw.close()
            return replies

        replies = await in_thread(session)
    assert replies == [
        f"250 {hashlib.sha1(b'x' * 1000).hexdigest()}",
        "550 large.txt: larger than the hashing limit (1000 bytes)",
        "200 NOOP ok",
    ]


class SlowStorage(MemoryStorage):
    """The memory backend with downloads (and so hashes) slowed to `delay` seconds per chunk."""

    def __init__(self, delay: float) -> None:
        super().__init__(chunk_size=64 * 1024)
        self.delay = delay
        self.closed: list[float] = []

    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        return SlowReader(await super().open_read(path, offset), self.delay, self.closed)


async def _store(storage: MemoryStorage, name: str, data: bytes) -> None:
    writer = await storage.open_write(PurePosixPath(name))
    await writer.write(data)
    await writer.commit()


async def test_abor_stops_a_hash_and_the_session_goes_on(root: Path) -> None:
    storage = SlowStorage(delay=0.05)
    await _store(storage, "/big.bin", b"b" * 64 * 1024 * 200)  # 200 slow chunks: 10 s to hash
    async with Server(root=root, port=0, storage_factory=lambda account: storage) as server:

        def session() -> list[str]:
            raw = RawControl(server.port)
            raw.login()
            raw.send("HASH big.bin")
            raw.send("ABOR")
            replies = [raw.read_reply().text, raw.read_reply().text]
            replies.append(raw.command("NOOP").text)
            raw.close()
            return replies

        replies = await in_thread(session, timeout=8)  # far less than the whole hash would take
    assert replies == ["426 Hash aborted", "226 ABOR command successful", "200 NOOP ok"]
    assert len(storage.closed) == 1  # the file was closed when the hash stopped


async def test_hashes_in_one_session_run_one_after_the_other(root: Path) -> None:
    """Two HASH lines sent at once: the second waits for the first, replies in order; meanwhile
    another session is served."""
    storage = SlowStorage(delay=0.05)  # the first hash takes a second: NOOP comes long before
    first, second = os.urandom(64 * 1024 * 20), os.urandom(64 * 1024 * 3)
    await _store(storage, "/first.bin", first)
    await _store(storage, "/second.bin", second)
    async with Server(root=root, port=0, storage_factory=lambda account: storage) as server:

        def session() -> tuple[list[str], str, int]:
            raw = RawControl(server.port)
            raw.login()
            other = RawControl(server.port)
            raw.send(b"HASH first.bin\r\nXMD5 second.bin\r\n")
            other_reply = other.command("NOOP").text
            closed_by_then = len(storage.closed)  # the first hash is still running
            replies = [raw.read_reply().text, raw.read_reply().text]
            raw.close()
            other.close()
            return replies, other_reply, closed_by_then

        replies, other_reply, closed_by_then = await in_thread(session)
    assert replies == [
        f"213 SHA-256 0-{len(first)} {hashlib.sha256(first).hexdigest()} first.bin",
        f"250 {hashlib.md5(second).hexdigest()}",
    ]
    assert other_reply == "200 NOOP ok" and closed_by_then == 0
