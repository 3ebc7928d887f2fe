"""The default backend's sessions: one LocalStorage per home folder, shared by every session
of that home (it holds no per-session state), each holding its folder open (the jail)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from .base import DEFAULT_CHUNK_SIZE, Storage
from .local import LocalStorage

log = logging.getLogger("aioftp_lite.server")


class LocalHomes:
    storage_type: type[Storage] = LocalStorage  # what the sessions' storage can do (FEAT asks)

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE, fsync: bool = True) -> None:
        self._chunk_size = chunk_size
        self._fsync = fsync
        self._storages: dict[Path, LocalStorage] = {}

    @staticmethod
    def prepare_root(root: Path) -> None:
        """Before serving (blocking): make the root, and delete what uploads interrupted by a
        crash left behind (their temporary files are this backend's own)."""
        root.mkdir(parents=True, exist_ok=True)  # the homes below it: `open`
        for stray in LocalStorage(root).remove_partial_uploads():
            log.warning("removed a partial upload left by an earlier run: %s", stray)

    def storage_for(self, home: Path) -> Storage:
        storage = self._storages.get(home)
        if storage is None:
            storage = LocalStorage(home, chunk_size=self._chunk_size, fsync=self._fsync)
            self._storages[home] = storage
        return storage

    def open(self, homes: Iterable[Path]) -> None:
        """Open these homes now (blocking; a missing one is made): a server that later runs out
        of file descriptors still lets its users log in."""
        for home in homes:
            if home not in self._storages:
                home.mkdir(parents=True, exist_ok=True)
                self.storage_for(home)

    def close(self) -> None:
        """Let go of the root descriptors (so their disk can be unmounted)."""
        for storage in self._storages.values():
            storage.close()
        self._storages.clear()
