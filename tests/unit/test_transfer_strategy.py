"""The one decision of how a transfer's bytes move, as a table: every fact that matters,
and what each combination gets."""

from __future__ import annotations

import asyncio

import pytest

from aioftp_lite.server.transfers.blocks import loop_takes_blocks
from aioftp_lite.server.transfers.strategy import Direction, Strategy, TransferFacts, choose

D, U = Direction.DOWNLOAD, Direction.UPLOAD
SENDFILE, SPLICE, BLOCKS, STREAM = Strategy.SENDFILE, Strategy.SPLICE, Strategy.BLOCKS, Strategy.STREAM

# direction, ascii, tls, throttled, local_file, sendfile_allowed, kernel_splice, buffered_loop -> strategy
TABLE = [
    # Downloads: sendfile only for untouched bytes of a local file, where allowed.
    (D, False, False, False, True,  True,  False, False, SENDFILE),
    (D, False, False, False, True,  True,  True,  True,  SENDFILE),  # upload-only facts do not matter
    (D, True,  False, False, True,  True,  False, False, STREAM),    # TYPE A converts line endings
    (D, False, True,  False, True,  True,  False, False, STREAM),    # TLS encrypts in user space
    (D, False, False, True,  True,  True,  False, False, STREAM),    # the rate limiter paces chunks
    (D, False, False, False, False, True,  False, False, STREAM),    # no local file (memory, S3)
    (D, False, False, False, True,  False, False, False, STREAM),    # --no-sendfile
    (D, True,  True,  True,  False, False, True,  True,  STREAM),
    # Uploads: splice into a local file on a bare socket; else blocks where the loop takes them.
    (U, False, False, False, True,  True,  True,  True,  SPLICE),
    (U, False, False, False, True,  False, True,  False, SPLICE),    # --no-sendfile is for downloads
    (U, False, False, False, True,  True,  False, True,  BLOCKS),    # no splice(2) on this platform
    (U, False, False, False, False, True,  True,  True,  BLOCKS),    # APPE, memory, S3
    (U, False, True,  False, True,  True,  True,  True,  BLOCKS),    # TLS: decrypted into the blocks
    (U, False, False, False, False, True,  True,  False, STREAM),    # uvloop
    (U, False, True,  False, True,  True,  True,  False, STREAM),
    (U, True,  False, False, True,  True,  True,  True,  STREAM),    # TYPE A
    (U, False, False, True,  True,  True,  True,  True,  STREAM),    # throttled
    (U, True,  True,  True,  False, False, False, False, STREAM),
]  # fmt: skip


@pytest.mark.parametrize(
    ("direction", "ascii_mode", "tls", "throttled", "local_file", "sendfile_allowed", "kernel_splice",
     "buffered_loop", "expected"),
    TABLE,
)  # fmt: skip
def test_the_strategy_table(
    direction: Direction, ascii_mode: bool, tls: bool, throttled: bool, local_file: bool,
    sendfile_allowed: bool, kernel_splice: bool, buffered_loop: bool, expected: Strategy,
) -> None:  # fmt: skip
    facts = TransferFacts(direction, ascii_mode, tls, throttled, local_file, sendfile_allowed, kernel_splice,
                          buffered_loop)  # fmt: skip
    assert choose(facts) is expected


def test_every_file_strategy_is_reachable_and_listings_have_their_own() -> None:
    assert {row[-1] for row in TABLE} == {SENDFILE, SPLICE, BLOCKS, STREAM}
    assert Strategy.LINES.value == "lines"


def test_the_loop_capability_is_asked_of_the_loop() -> None:
    async def ask() -> bool:
        return loop_takes_blocks(asyncio.get_running_loop())

    assert asyncio.run(ask()) is True
    uvloop = pytest.importorskip("uvloop")
    assert uvloop.run(ask()) is False
