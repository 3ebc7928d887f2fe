"""Noticing a transfer that no longer moves: the data-timeout watch.

Why a watch instead of a timeout around each read and write: a timer per await would
be made and cancelled for every chunk, and a wait that finishes in time says little
(a slow client that takes a whole chunk's worth of time per write is still moving).
Here a transfer only records what it moved; the server's periodic sweep (server.py)
asks each running transfer how long it has been standing still.

What counts as moving: the bytes the transfer handed on (`Progress.moved`), and on
Linux the data socket's own TCP counters (bytes acknowledged by the client, bytes
received from it). The latter see what user space cannot: a download whose last
sendfile filled a large kernel buffer that the client is still reading, slowly.
"""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

from .transfers.progress import Progress

if TYPE_CHECKING:
    from .datachannel import DataConnection

_TCP_INFO = getattr(socket, "TCP_INFO", None)
# struct tcp_info (linux/tcp.h): tcpi_bytes_acked and tcpi_bytes_received, two u64 at byte 120.
_BYTES_COUNTERS = struct.Struct("=QQ")
_BYTES_OFFSET = 120
_TCP_INFO_SIZE = _BYTES_OFFSET + _BYTES_COUNTERS.size


def tcp_bytes_moved(sock: socket.socket | None) -> int:
    """Bytes acknowledged by the peer plus bytes received from it; 0 where the kernel cannot say."""
    if sock is None or _TCP_INFO is None:
        return 0
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_SIZE)
    except OSError:  # closed meanwhile, or not TCP
        return 0
    if len(raw) < _TCP_INFO_SIZE:  # a kernel older than these counters (4.1)
        return 0
    acked, received = _BYTES_COUNTERS.unpack_from(raw, _BYTES_OFFSET)
    return int(acked + received)


class StallWatch:
    """How long one transfer's data connection has moved nothing."""

    __slots__ = ("_connection", "_position", "_progress", "_since", "fired")

    def __init__(self, progress: Progress, connection: DataConnection, now: float) -> None:
        self._progress = progress
        self._connection = connection
        self._position = -1
        self._since = now
        self.fired = False  # the session cut the transfer for standing still

    def still_for(self, now: float) -> float:
        """Seconds since the last sign of progress (0 while the server itself holds the transfer)."""
        progress = self._progress
        position = progress.moved + tcp_bytes_moved(self._connection.tcp_socket)
        if position != self._position or progress.held_by_server:
            self._position, self._since = position, now
        return now - self._since
