"""Deterministic file contents, so every side can check data without shipping it.

A file is a run of 1 MiB blocks: one fixed random block whose first 8 bytes are
replaced by the block's index (plus a salt). Blocks differ, so a server that drops,
repeats or reorders a chunk changes the CRC; the load generator and the runner build
the same bytes from the same (size, salt) and compare CRC-32s.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from pathlib import Path

# zlib-ng computes zlib's CRC-32 ~5x faster here (25 GB/s from memory; zlib 5.4 GB/s). The load
# generator checks every byte it downloads, and with zlib that CRC was ~40 % of its core at
# 2,000 MiB/s (`bench` extra; plain zlib where it is not installed).
try:
    from zlib_ng.zlib_ng import crc32
except ImportError:
    from zlib import crc32

BLOCK_SIZE = 1 << 20
_SEED = 0x0F7B


@functools.cache
def _base_block() -> bytes:
    return random.Random(_SEED).randbytes(BLOCK_SIZE)


def _stamp(index: int, salt: int) -> bytes:
    return (index + (salt << 32)).to_bytes(8, "little")


def iter_blocks(size: int, salt: int = 0) -> Iterator[bytes]:
    """The file's bytes in blocks of at most 1 MiB (fresh `bytes` objects: a transport
    may keep a reference to what it was given)."""
    base = _base_block()
    index = 0
    while size > 0:
        block = (_stamp(index, salt) + base[8:])[:size]
        yield block
        size -= len(block)
        index += 1


def iter_views(size: int, salt: int = 0) -> Iterator[memoryview]:
    """The same bytes as `iter_blocks`, as views of ONE buffer restamped in place: no 1 MiB
    allocation and copy per block, but each view is only valid until the next is asked
    for (for a sender that has copied it out by then, like `loop.sock_sendall`)."""
    buffer = bytearray(_base_block())
    view = memoryview(buffer)
    for index, offset in enumerate(range(0, size, BLOCK_SIZE)):
        buffer[:8] = _stamp(index, salt)
        yield view[: min(BLOCK_SIZE, size - offset)]


@functools.cache
def checksum(size: int, salt: int = 0) -> int:
    crc = 0
    for block in iter_blocks(size, salt):
        crc = crc32(block, crc)
    return crc


def write_file(path: Path, size: int, salt: int = 0) -> None:
    with open(path, "wb") as file:
        file.writelines(iter_blocks(size, salt))


def file_checksum(path: Path) -> tuple[int, int]:
    """(size, crc32) of a file on disk."""
    crc = size = 0
    with open(path, "rb") as file:
        while block := file.read(BLOCK_SIZE):
            crc = crc32(block, crc)
            size += len(block)
    return size, crc
