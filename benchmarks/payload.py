"""Deterministic file contents, so every side can check data without shipping it.

A file is a run of 1 MiB blocks: one fixed random block whose first 8 bytes are
replaced by the block's index (plus a salt). Blocks differ, so a server that drops,
repeats or reorders a chunk changes the CRC; the load generator and the runner build
the same bytes from the same (size, salt) and compare CRC-32s (fast: > 5 GB/s).
"""

from __future__ import annotations

import functools
import random
import zlib
from collections.abc import Iterator
from pathlib import Path

BLOCK_SIZE = 1 << 20
_SEED = 0x0F7B


@functools.cache
def _base_block() -> bytes:
    return random.Random(_SEED).randbytes(BLOCK_SIZE)


def iter_blocks(size: int, salt: int = 0) -> Iterator[bytes]:
    """The file's bytes in blocks of at most 1 MiB (fresh `bytes` objects: a transport
    may keep a reference to what it was given)."""
    base = _base_block()
    index = 0
    while size > 0:
        stamp = (index + (salt << 32)).to_bytes(8, "little")
        block = stamp + base[8:] if size >= BLOCK_SIZE else (stamp + base[8:])[:size]
        yield block
        size -= len(block)
        index += 1


@functools.cache
def checksum(size: int, salt: int = 0) -> int:
    crc = 0
    for block in iter_blocks(size, salt):
        crc = zlib.crc32(block, crc)
    return crc


def write_file(path: Path, size: int, salt: int = 0) -> None:
    with open(path, "wb") as file:
        file.writelines(iter_blocks(size, salt))


def file_checksum(path: Path) -> tuple[int, int]:
    """(size, crc32) of a file on disk."""
    crc = size = 0
    with open(path, "rb") as file:
        while block := file.read(BLOCK_SIZE):
            crc = zlib.crc32(block, crc)
            size += len(block)
    return size, crc
