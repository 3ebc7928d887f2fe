"""The folder `aioftp-lite-bench` works in on the server under test: made inside the
URL's folder, filled with the files a scenario downloads, and removed afterwards with
everything in it (the uploads the scenario left too). Plain FTP through aioftp_lite's
own client, so any server will do.
"""

from __future__ import annotations

import io
import os
import posixpath
import secrets

from aioftp_lite import FTPClient

from . import payload
from .scenario_kit import UPLOAD_DIR


class PayloadReader(io.RawIOBase):
    """`payload`'s bytes for (size, salt) as a readable file, built block by block."""

    def __init__(self, size: int, salt: int = 0) -> None:
        self._blocks = payload.iter_blocks(size, salt)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._pending:
            self._pending = memoryview(next(self._blocks, b""))
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class WorkFolder:
    """`async with WorkFolder(...) as path:` a fresh folder under `base` holding `files`
    (name -> size) and an empty UPLOAD_DIR; `path` is what a session in the login folder
    changes into."""

    def __init__(self, host: str, port: int, user: str, password: str, base: str, files: dict[str, int],
                 timeout: float = 30.0) -> None:  # fmt: skip
        self._client = lambda: FTPClient(host, port, user=user, password=password, timeout=timeout)
        name = f"aioftp-lite-bench-{os.getpid()}-{secrets.token_hex(3)}"
        self.path = posixpath.join(base, name) if base else name
        self.files = files
        self.left: list[str] = []  # what could not be removed, with the server's answer

    async def __aenter__(self) -> str:
        async with self._client() as client:
            await client.mkdir(self.path)
            try:
                await client.cwd(self.path)
                await client.mkdir(UPLOAD_DIR)
                for name, size in self.files.items():
                    await client.upload(PayloadReader(size), name)  # type: ignore[arg-type]
            except BaseException:
                await self._remove(client, self.path)
                raise
        return self.path

    async def __aexit__(self, *exc_info: object) -> None:
        async with self._client() as client:
            await self._remove(client, self.path)

    async def _remove(self, client: FTPClient, folder: str) -> None:
        """Everything under `folder`, then the folder; what is refused is noted in `left`."""
        try:
            for entry in await client.list(folder):
                path = posixpath.join(folder, entry.name)
                if entry.is_dir and not entry.is_link:
                    await self._remove(client, path)
                else:
                    await client.delete(path)
            await client.rmdir(folder)
        except Exception as error:  # noqa: BLE001 - reported to the user, the run goes on
            self.left.append(f"{folder}: {error}")
