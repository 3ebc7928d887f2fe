"""How a transfer's bytes move: one pure decision from what is known before it starts.

The mechanisms, fastest first, each used only where it is correct:

- SENDFILE (downloads): the kernel sends the file from the page cache to the bare socket.
  Needs the bytes as stored (TYPE I), no rate limit, no TLS (the kernel would send them
  unencrypted), and a file the backend offers as a local descriptor.
- SPLICE (uploads): socket -> kernel pipe -> file, no copy through Python. The same needs,
  and a file the backend lets us write from a pipe (not an O_APPEND one), on Linux.
- BLOCKS (uploads): the kernel reads into large blocks (BufferedProtocol) that go to the
  storage as they are. Needs the bytes as sent, no rate limit, and an event loop whose
  BufferedProtocol support this path was built and measured on (asyncio's own).
- STREAM (both): chunks through the stream reader or writer; converts line endings for
  TYPE A and waits for the rate limiters. Serves everything the others cannot.
- LINES (listings): text lines in batches through the stream writer.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Direction(enum.Enum):
    DOWNLOAD = "download"
    UPLOAD = "upload"


class Strategy(enum.Enum):
    SENDFILE = "sendfile"
    SPLICE = "splice"
    BLOCKS = "blocks"
    STREAM = "stream"
    LINES = "lines"


class TransferFacts(NamedTuple):
    """What the decision needs to know about one transfer (a tuple: one is made per transfer)."""

    direction: Direction
    ascii: bool  # TYPE A: line endings are converted, so bytes cannot move untouched
    tls: bool  # PROT P: the bytes must pass through the TLS layer
    throttled: bool  # a rate limit applies
    local_file: bool  # the backend offers a local descriptor for this file (read, or write from a pipe)
    sendfile_allowed: bool = True  # the server's --no-sendfile switch (downloads)
    kernel_splice: bool = False  # the platform has splice(2) (uploads)
    buffered_loop: bool = False  # the event loop's BufferedProtocol is the one measured (uploads)


def choose(facts: TransferFacts) -> Strategy:
    """The mechanism for a file transfer with these facts."""
    untouched = not facts.ascii and not facts.throttled and not facts.tls
    if facts.direction is Direction.DOWNLOAD:
        return (
            Strategy.SENDFILE
            if untouched and facts.local_file and facts.sendfile_allowed
            else Strategy.STREAM
        )
    if untouched and facts.local_file and facts.kernel_splice:
        return Strategy.SPLICE
    # TLS is fine here: the TLS layer hands decrypted bytes to the protocol's buffer.
    if not facts.ascii and not facts.throttled and facts.buffered_loop:
        return Strategy.BLOCKS
    return Strategy.STREAM
