"""File descriptors: take what the system allows, and size the connection limit to it.

A fixed default connection limit is wrong both ways: too low for a host
configured for ten thousand clients, too high for a process whose soft limit is 1,024
descriptors (it then runs out of them and accept fails). As nginx and systemd services
do, the soft limit is raised to the hard one at start, and unless the operator gives
--max-connections, the limit is what the descriptors allow.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from typing import Any

try:
    import resource
except ImportError:  # not Unix: no limits to read or raise
    resource = None  # type: ignore[assignment]

log = logging.getLogger("aioftp_lite.server")

# Descriptors the process needs besides its sessions: listeners, the event loop's own,
# standard streams, log files, worker threads opening files, the passive-port search.
RESERVE = 64
# What one session may hold at once: its control connection, a passive listener, the
# data connection, and the file being transferred.
PER_SESSION = 4
# Where the hard limit is "unlimited", the kernel still caps it (Linux: fs.nr_open).
_NR_OPEN = "/proc/sys/fs/nr_open"
_FALLBACK_CEILING = 1 << 20


def raise_open_file_limit() -> int | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now (None: no such limit)."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else _kernel_ceiling()
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, error)
    return None if soft == resource.RLIM_INFINITY else soft


def _kernel_ceiling() -> int:
    try:
        with open(_NR_OPEN) as file:
            return int(file.read())
    except (OSError, ValueError):
        return _FALLBACK_CEILING


def connection_limit(descriptors: int | None) -> int:
    """How many sessions `descriptors` open files can carry (0: no limit known)."""
    if descriptors is None:
        return 0
    return max(1, (descriptors - RESERVE) // PER_SESSION)


# What accept() answers when the process or the system is out of descriptors or memory.
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class AcceptFailureLog:
    """A loop exception handler that turns asyncio's accept-failure reports into a warning.

    asyncio's own loop survives running out of descriptors: it stops accepting for a
    second and tries again (uvloop accepts and closes the waiting connections instead,
    silently). But it reports every failed accept() as an error with a traceback, up
    to a hundred a second for as long as it lasts.
    Here that becomes one warning line per `interval`; anything else goes on to the
    handler that was set before.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float = 10.0) -> None:
        self.previous = loop.get_exception_handler()
        self._interval = interval
        self._next_report = 0.0
        self._failures = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if (
            isinstance(error, OSError)
            and error.errno in _OUT_OF_RESOURCES
            and "accept" in context.get("message", "")
        ):
            self._failures += 1
            now = loop.time()
            if now >= self._next_report:
                log.warning(
                    "out of resources (%s): new connections wait until sessions end (%d failed accepts)",
                    os.strerror(error.errno or 0),
                    self._failures,
                )
                self._next_report, self._failures = now + self._interval, 0
            return
        if self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)
