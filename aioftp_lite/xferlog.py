"""`--xferlog FILE`: the wu-ftpd/vsftpd transfer log, one line per finished transfer, in the
fields of xferlog(5), so that the tools that read it (AWStats, fail2ban, xferstats) do:

    Mon Jan  6 12:00:00 2025 1 127.0.0.1 5 /a.txt b _ i r alice ftp 0 * c

current-time, transfer-time (whole seconds), remote-host, file-size (bytes moved), filename,
transfer-type (a: ascii, b: binary), special-action-flag (_: none), direction (o: outgoing,
i: incoming), access-mode (a: anonymous, r: real user), username, service-name,
authentication-method (0: none), authenticated-user-id (*: none), completion-status
(c: complete, i: incomplete).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import IO

from .events import TransferDone

_UNSAFE = re.compile(r"\s")  # a field may hold no blank: readers split lines at them


def xferlog_line(event: TransferDone, now: float | None = None) -> str:
    """The line for one transfer, without its newline."""
    host = event.peer.rpartition(":")[0] or event.peer
    fields = (
        time.ctime(time.time() if now is None else now),  # "Mon Jan  6 12:00:00 2025", local time
        str(round(event.seconds)),
        host,
        str(event.size),
        _UNSAFE.sub("_", event.path),
        "a" if event.ascii else "b",
        "_",
        "o" if event.direction == "download" else "i",
        "a" if event.anonymous else "r",
        _UNSAFE.sub("_", event.user),
        "ftp",
        "0",
        "*",
        "c" if event.result == "ok" else "i",
    )
    return " ".join(fields)


class XferLog:
    """The event sink that appends the lines; `reopen()` after logrotate moved the file (SIGHUP)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # reopen() may come from another thread than the writes
        self._file: IO[str] = self._open()

    def _open(self) -> IO[str]:
        # Line-buffered, appended: workers writing one file never interleave within a line.
        return open(self.path, "a", encoding="utf-8", buffering=1)

    def __call__(self, event: object) -> None:
        if isinstance(event, TransferDone):
            line = xferlog_line(event) + "\n"
            with self._lock:
                self._file.write(line)

    def reopen(self) -> None:
        with self._lock:
            self._file.close()
            self._file = self._open()

    def close(self) -> None:
        with self._lock:
            self._file.close()
