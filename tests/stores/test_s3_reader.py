"""The S3 download reader against the session's SeaweedFS: it reads ahead in a task of its
own, and whatever ends that task, the download gets its bytes or an error, never a wait
without end."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from aioftp_lite.storage import WriteMode
from aioftp_lite.storage.s3 import S3Storage, StoreError
from tests.support.s3 import fresh_prefix

CHUNK = 64 * 1024


async def test_a_read_ahead_cancelled_from_inside_gives_an_error_not_a_hang(s3_client: object) -> None:
    # A cancellation that does not come from the reader's own close() (aiohttp's timers can
    # turn a timeout into one inside the S3 client) ends the read-ahead task without a
    # last item; the download must then fail at once rather than wait for the next chunk.
    storage = S3Storage(s3_client, fresh_prefix(), chunk_size=CHUNK)  # type: ignore[arg-type]
    data = bytes(range(256)) * 4096  # 1 MiB: several chunks
    writer = await storage.open_write(PurePosixPath("/f"), WriteMode.REPLACE)
    await writer.write(data)
    await writer.commit()
    reader = await storage.open_read(PurePosixPath("/f"))
    try:
        assert await reader.read_chunk() == data[:CHUNK]
        filler = reader._filler  # type: ignore[attr-defined]
        filler.cancel()  # as a stray cancellation inside the S3 client would
        received = CHUNK
        async with asyncio.timeout(5):
            try:
                while chunk := await reader.read_chunk():  # what was read ahead, then the error
                    assert chunk == data[received : received + len(chunk)]
                    received += len(chunk)
            except StoreError as error:
                assert "stopped" in str(error)
            else:
                raise AssertionError(f"the download ended without an error after {received} bytes")
        assert received < len(data)
    finally:
        await reader.close()


async def test_the_reader_still_delivers_every_byte(s3_client: object) -> None:
    storage = S3Storage(s3_client, fresh_prefix(), chunk_size=CHUNK)  # type: ignore[arg-type]
    data = bytes(range(256)) * 4096 + b"tail"
    writer = await storage.open_write(PurePosixPath("/g"), WriteMode.REPLACE)
    await writer.write(data)
    await writer.commit()
    for offset in (0, CHUNK + 3):
        reader = await storage.open_read(PurePosixPath("/g"), offset)
        try:
            pieces = [chunk async for chunk in _chunks(reader)]
        finally:
            await reader.close()
        assert b"".join(pieces) == data[offset:]


async def _chunks(reader: object):  # type: ignore[no-untyped-def]
    while chunk := await reader.read_chunk():  # type: ignore[attr-defined]
        yield chunk
