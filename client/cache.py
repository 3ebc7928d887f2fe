"""Remote folder listings for completion: answered at once from memory, refreshed in the background.

The completer only ever reads this cache (`entries` never waits). A missing, stale or
invalidated folder is queued, and one worker task lists queued folders one at a time
over the client's control connection:

- it waits until the shell is idle (no user command running), so a refresh never
  delays a command the user typed, and never runs between the steps of a transfer;
- the listing goes through the client, whose command lock serializes it with anything
  else on the connection, so nothing is ever sent in the middle of a transfer;
- a folder invalidated while it was being listed is listed again (the answer may
  predate the change).

Listeners (`on_update`) hear about each new listing, so an open completion menu can
be refreshed once the names arrive.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class ListingSource(Protocol):
    """The part of the FTP client the cache uses."""

    lock: asyncio.Lock  # held for each command; re-entrant for its holder

    async def list(self, path: str = "") -> Sequence[Any]: ...


@dataclass(slots=True)
class Listing:
    entries: tuple[Any, ...]  # sorted by name
    fetched_at: float
    stale: bool = False
    error: str = ""  # the server refused to list it (not a folder, no permission)


class ListingCache:
    """Listings per absolute remote folder, filled by one background worker."""

    def __init__(self, *, max_age: float = 60.0, max_folders: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.max_age = max_age
        self.max_folders = max_folders
        self._clock = clock
        self._listings: collections.OrderedDict[str, Listing] = collections.OrderedDict()
        self._queue: dict[str, None] = {}  # an ordered set of folders to list
        self._generation: collections.Counter[str] = collections.Counter()  # bumped by invalidate
        self._listing_generation = 0  # the generation of the folder being listed, when it started
        self._source: ListingSource | None = None
        self._worker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()
        self.idle = asyncio.Event()  # set by the shell while no user command runs
        self.idle.set()
        self.listing_now = ""  # the folder being listed, for the toolbar
        self.lost = ""  # why the connection broke during a background listing, if it did
        self.on_update: list[Callable[[str], None]] = []

    # --- connection --------------------------------------------------------------
    def attach(self, source: ListingSource) -> None:
        """Serve listings from a newly connected client; forget everything from the last one."""
        self.detach()
        self._source = source
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="listing-cache")

    def detach(self) -> None:
        """The connection is gone: stop listing and forget its listings."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self._source = None
        self._listings.clear()
        self._queue.clear()
        self.listing_now = ""
        self.lost = ""
        self._settled.set()

    async def close(self) -> None:
        worker = self._worker
        self.detach()
        if worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    # --- what the completer and the shell call (never waits) ----------------------
    def entries(self, folder: str) -> tuple[Any, ...] | None:
        """The names known for `folder` (maybe stale), or None; queues a refresh when due."""
        listing = self._listings.get(folder)
        if listing is None or listing.stale or self._clock() - listing.fetched_at > self.max_age:
            self.request(folder)
        if listing is None:
            return None
        self._listings.move_to_end(folder)
        return listing.entries

    def listing(self, folder: str) -> Listing | None:
        return self._listings.get(folder)

    def request(self, folder: str) -> None:
        """Queue `folder` for listing, unless it is already queued or being listed."""
        if self._source is None or folder in self._queue:
            return
        if folder == self.listing_now and not self._pending_invalidation(folder):
            return
        self._queue[folder] = None
        self._settled.clear()
        self._wake.set()

    def invalidate(self, folder: str) -> None:
        """Our own change made `folder` out of date: keep answering from it, but list it again."""
        self._generation[folder] += 1
        listing = self._listings.get(folder)
        if listing is not None:
            listing.stale = True
        self.request(folder)

    def store(self, folder: str, entries: Sequence[Any]) -> None:
        """A fresh listing obtained elsewhere (the user's own `ls`)."""
        self._put(folder, Listing(tuple(sorted(entries, key=lambda entry: entry.name)), self._clock()))

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every queued folder has been listed (for tests and scripts)."""
        await asyncio.wait_for(self._settled.wait(), timeout)

    # --- the worker -------------------------------------------------------------
    def _pending_invalidation(self, folder: str) -> bool:
        return self._generation[folder] != self._listing_generation

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self.idle.wait()
                if not self._queue:
                    break
                folder = next(iter(self._queue))
                del self._queue[folder]
                await self._refresh(folder)
            if not self._queue:
                self._settled.set()

    async def _refresh(self, folder: str) -> None:
        source = self._source
        if source is None:
            return
        self.listing_now = folder
        self._listing_generation = self._generation[folder]
        try:
            async with source.lock:  # never between a transfer's commands; waits for it to end
                entries = await source.list(folder)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure is recorded, never raised at the user
            if _is_connection_error(error):
                self.lost = str(error)  # the shell reports it on the next command
                self._queue.clear()
                self._settled.set()
                return
            listing = Listing((), self._clock(), error=str(error))
        else:
            listing = Listing(tuple(sorted(entries, key=lambda entry: entry.name)), self._clock())
        finally:
            self.listing_now = ""
        if self._generation[folder] != self._listing_generation:  # changed while we listed
            listing.stale = True
            self.request(folder)
        self._put(folder, listing)

    def _put(self, folder: str, listing: Listing) -> None:
        self._listings[folder] = listing
        self._listings.move_to_end(folder)
        while len(self._listings) > self.max_folders:
            self._listings.popitem(last=False)
        for listener in list(self.on_update):
            listener(folder)


def _is_connection_error(error: Exception) -> bool:
    """A broken control connection (FTPConnectionLost is one), as opposed to the server
    refusing this one listing or a stalled data connection (the client survives those)."""
    return isinstance(error, ConnectionError)
