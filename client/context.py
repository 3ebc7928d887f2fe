"""What a REPL verb sees of the shell that runs it.

The verbs (`actions.py`, `transfers.py`, ...) are written against this protocol, not
against `Shell`: the shell imports the verb table, and the verbs need no import back.
`Shell` (shell.py) is the one implementation; mypy checks that it fits wherever the
table hands it to a verb.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from aioftp_lite import FTPClient

from .background import Jobs
from .cache import ListingCache
from .progress import Progress, TextSink
from .target import Target


class ShellContext(Protocol):
    # --- the connection ------------------------------------------------------------
    target: Target | None  # the last server tried
    cache: ListingCache  # remote listings, for completion and globbing

    @property
    def connected(self) -> bool: ...

    def require_client(self) -> FTPClient:
        """The logged-in client, or a ShellError / FTPConnectionLost saying why there is none."""
        ...

    async def open(self, target: Target) -> None: ...

    async def disconnect(self) -> None: ...

    def reconnect_target(self) -> Target | None: ...

    async def connect_again(self) -> FTPClient:
        """One more connection to the same server and folder (the caller closes it)."""
        ...

    # --- folders and paths ---------------------------------------------------------
    remote_cwd: str
    local_dir: Path

    def remote(self, path: str) -> str: ...

    def local(self, path: str) -> Path: ...

    async def is_remote_folder(self, path: str) -> bool: ...

    def changed(self, *paths: str) -> None:
        """These remote paths changed: their folders' listings are out of date."""
        ...

    # --- output and transfers -------------------------------------------------------
    out: TextSink
    show_progress: bool
    progress: Progress | None  # the running transfer's, for `jobs` and the toolbar
    transfer_state: str  # for the toolbar
    interruption: str  # what a command cancelled by Ctrl-C had done

    def print(self, text: str = "") -> None: ...

    # --- the session ---------------------------------------------------------------
    jobs: Jobs
    finished: bool  # `quit` was typed
    confirm: Callable[[str], Awaitable[bool]] | None  # asks yes/no (the REPL); None in batch mode
