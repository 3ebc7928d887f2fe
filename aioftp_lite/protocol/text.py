"""TYPE A (ASCII) line-ending conversion, chunk by chunk.

On the wire, ASCII lines end in CRLF (RFC 959 3.1.1.1); on disk they end in LF.
Both converters are incremental: a CR at the end of one chunk may pair with an LF
at the start of the next.
"""

from __future__ import annotations


class ToNetworkAscii:
    """Disk -> wire: every LF becomes CRLF, unless it already follows a CR."""

    def __init__(self) -> None:
        self._last_was_cr = False

    def convert(self, chunk: bytes) -> bytes:
        if not chunk:
            return chunk
        # Normalise existing CRLFs first so that they are not doubled.
        out = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self._last_was_cr and chunk.startswith(b"\n"):
            out = out[1:]  # its CR went out at the end of the previous chunk
        self._last_was_cr = chunk.endswith(b"\r")
        return out


class FromNetworkAscii:
    """Wire -> disk: every CRLF becomes LF; a lone CR is kept."""

    def __init__(self) -> None:
        self._pending_cr = False

    def convert(self, chunk: bytes) -> bytes:
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if chunk.endswith(b"\r"):
            self._pending_cr = True
            chunk = chunk[:-1]
        return chunk.replace(b"\r\n", b"\n")

    def flush(self) -> bytes:
        """What is held back at the end of the transfer (a final lone CR)."""
        if self._pending_cr:
            self._pending_cr = False
            return b"\r"
        return b""
