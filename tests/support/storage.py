"""Storage for tests: a FileReader that slows downloads down (so tests can act mid-transfer),
and the helpers the storage-interface tests share (write, read back, list, expect an OS error)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from pathlib import PurePosixPath

import pytest

from aioftp_lite.storage import Storage, WriteMode
from aioftp_lite.storage.base import FileReader


class SlowReader(FileReader):
    """Sleeps `delay` seconds before each chunk; `ended` (if given) gets the close time."""

    def __init__(self, inner: FileReader, delay: float = 0.03, ended: list[float] | None = None) -> None:
        self.inner, self.delay, self.ended = inner, delay, ended
        self.size = inner.size

    async def read_chunk(self) -> bytes:
        await asyncio.sleep(self.delay)
        return await self.inner.read_chunk()

    async def close(self) -> None:
        if self.ended is not None:
            self.ended.append(time.monotonic())
        await self.inner.close()


P = PurePosixPath


CHUNK = 7  # small, so that files of a few dozen bytes take several chunks


DATA = bytes(range(256)) * 3 + b"end"  # 771 bytes, every byte value


async def write_file(storage: Storage, path: str, data: bytes, mode: WriteMode = WriteMode.REPLACE,
                     offset: int = 0) -> None:  # fmt: skip
    writer = await storage.open_write(P(path), mode, offset)
    for start in range(0, len(data), 100):
        await writer.write(data[start : start + 100])
    await writer.commit()


async def read_chunks(storage: Storage, path: str, offset: int = 0) -> list[bytes]:
    reader = await storage.open_read(P(path), offset)
    chunks = []
    try:
        for _ in range(100_000):  # bounded: no test file needs more chunks
            chunk = await reader.read_chunk()
            if not chunk:
                return chunks
            chunks.append(chunk)
        raise AssertionError("reader never reached the end")
    finally:
        await reader.close()


async def read_file(storage: Storage, path: str, offset: int = 0) -> bytes:
    return b"".join(await read_chunks(storage, path, offset))


async def names(storage: Storage, path: str = "/") -> set[str]:
    return {info.name for info in await storage.list_dir(P(path))}


async def assert_os_error(error_type: type[OSError], code: int, operation: Awaitable[object]) -> None:
    """The exact error type AND errno: the server's reply table keys on errno."""
    with pytest.raises(error_type) as raised:
        await operation
    assert raised.value.errno == code, raised.value
