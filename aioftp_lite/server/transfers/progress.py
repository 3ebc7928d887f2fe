"""How far a transfer got: shared by the mechanisms, the stall watch and the log line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    """Bytes moved so far by one transfer: the log line reports them even when it is cut.

    `held_by_server`: the transfer waits on the server itself (a rate limit, committing an
    upload), not on the client; the stall watch (stall.py) does not count that time.
    """

    moved: int = 0
    held_by_server: bool = False
