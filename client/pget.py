"""`pget -n N FILE`: one download over N connections, each fetching its own byte range.

The file is cut into N ranges. Each range is a RETR with REST at its start, on its own
connection; its bytes are written in place (pwrite) and, once the range is full, the
transfer is aborted (ABOR), since FTP has no "up to byte X". What each range has is
kept in a small state file beside the download (`.NAME.pget`), so an interrupted pget
(Ctrl-C, a lost connection) resumes where each range stopped when run again. At the
end the file is checked: against the server's HASH where it has one, else by its size;
its SHA-256 is shown either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aioftp_lite import FTPClient, FTPReplyError

from . import remote_paths
from .commands import Arg, Call, verb
from .context import ShellContext
from .errors import ShellError
from .progress import Progress, format_summary
from .transfers import local_target

HASHES = {"SHA-256": "sha256", "SHA-1": "sha1", "MD5": "md5"}
Callback = Callable[[int], None]
SAVE_EVERY = 0.5  # seconds between writes of the state file (a few bytes)


class RangeFull(Exception):
    """A range has all its bytes: stop this transfer (the client sends ABOR)."""


@dataclass
class Range:
    start: int
    end: int  # one past the last byte
    done: int = 0

    @property
    def complete(self) -> bool:
        return self.start + self.done >= self.end


def split(size: int, parts: int) -> list[Range]:
    """`size` bytes in `parts` ranges as even as can be (pure); no empty range."""
    parts = max(1, min(parts, size))
    step, extra = divmod(size, parts)
    ranges, start = [], 0
    for index in range(parts):
        end = start + step + (1 if index < extra else 0)
        ranges.append(Range(start, end))
        start = end
    return ranges


class RangeSink:
    """The file-like a range's download writes into: at its place in the file, never past its end."""

    def __init__(self, descriptor: int, part: Range) -> None:
        self.descriptor, self.part = descriptor, part

    def seek(self, offset: int) -> int:  # the client seeks to the REST offset first
        return offset

    def write(self, data: bytes) -> int:
        part = self.part
        position = part.start + part.done
        data = data[: part.end - position]
        os.pwrite(self.descriptor, data, position)
        part.done += len(data)
        if part.complete:
            raise RangeFull
        return len(data)

    def flush(self) -> None:
        pass


class StateFile:
    """`.NAME.pget`: the remote size and each range's progress, for a later run to resume."""

    def __init__(self, target: Path) -> None:
        self.path = target.with_name(f".{target.name}.pget")

    def load(self, size: int) -> list[Range] | None:
        try:
            state = json.loads(self.path.read_text())
            if state["size"] != size:
                return None  # the remote file changed: start again
            return [Range(*part) for part in state["ranges"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, size: int, ranges: list[Range]) -> None:
        partial = self.path.with_name(self.path.name + ".new")
        partial.write_text(json.dumps({"size": size, "ranges": [[r.start, r.end, r.done] for r in ranges]}))
        os.replace(partial, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


async def _fetch_range(client: FTPClient, remote: str, descriptor: int, part: Range, moved: Callback) -> None:
    if part.complete:
        return
    sink = RangeSink(descriptor, part)
    with contextlib.suppress(RangeFull):
        await client.download(remote, sink, offset=part.start + part.done, progress=moved)
    if not part.complete:  # the server ended the file early: it changed under us
        raise ShellError(f"the remote file ended at byte {part.start + part.done}, before {part.end}")


async def _server_hash(client: FTPClient, remote: str) -> tuple[str, str] | None:
    """(algorithm, hex digest) from HASH (draft-bryan-ftpext-hash), or None if there is none."""
    if "HASH" not in client.features:
        return None
    try:
        reply = await client.command(f"HASH {remote}")
    except FTPReplyError:
        return None
    words = reply.text.split()
    if len(words) >= 3 and words[0].upper() in HASHES:
        return HASHES[words[0].upper()], words[2].lower()
    return None


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@verb("pget", usage="pget [-n N] REMOTE [LOCAL]", group="Transfers", args=(Arg.REMOTE, Arg.LOCAL), required=1,
      options={"-n N": "how many connections (default 4)"}, retry="",
      summary="download one file over several connections",
      details="""
      Fetch REMOTE in N pieces at once, each on its own connection (REST at its start), written
      in place. Ctrl-C keeps what arrived: run the same pget again and it resumes each piece.
      The result is checked against the server's HASH where there is one, else by its size.
      """)  # fmt: skip
async def pget(shell: ShellContext, call: Call) -> None:
    remote = call.args[0]
    target = local_target(shell, remote, call.args[1] if len(call.args) > 1 else None)
    count = call.value("-n", 4, most=16)
    client = shell.require_client()
    try:
        size = await client.size(remote)
    except FTPReplyError as error:
        raise ShellError(f"{error} (pget needs the size: use get)") from None
    state = StateFile(target)
    ranges = (state.load(size) if target.exists() else None) or split(size, count)
    resumed = sum(part.done for part in ranges)
    label = remote_paths.basename(remote)
    progress = shell.progress = Progress(
        label, size, shell.out, start_at=resumed, show_bar=shell.show_progress
    )
    descriptor = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
    clients = [client]
    loop = asyncio.get_running_loop()
    shell.transfer_state = f"pget {label} on {len(ranges)} connections"
    try:
        if resumed == 0:
            os.ftruncate(descriptor, size)
        state.save(size, ranges)
        pending = [part for part in ranges if not part.complete]
        for _ in range(len(pending) - 1):
            clients.append(await shell.connect_again())

        saved_at = [loop.time()]

        def moved(_: int) -> None:
            progress.update(sum(part.done for part in ranges))
            if loop.time() - saved_at[0] >= SAVE_EVERY:  # so even a killed client resumes
                saved_at[0] = loop.time()
                state.save(size, ranges)

        try:
            async with asyncio.TaskGroup() as group:
                for worker, part in zip(clients, pending, strict=False):
                    group.create_task(_fetch_range(worker, remote, descriptor, part, moved))
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
    except BaseException as error:
        progress.clear()
        done = sum(part.done for part in ranges)
        await asyncio.to_thread(state.save, size, ranges)
        if isinstance(error, asyncio.CancelledError):
            shell.interruption = (
                f"interrupted with {done} of {size} bytes (ranges kept): the same pget resumes"
            )
        raise
    finally:
        os.close(descriptor)
        for extra in clients[1:]:
            await extra.quit()
    progress.done = size
    progress.clear()
    await _check(shell, client, remote, target, size)
    state.remove()
    shell.transfer_state = format_summary("got", label, size, progress.elapsed, resumed)
    shell.print(shell.transfer_state + f" on {len(ranges)} connections")


async def _check(shell: ShellContext, client: FTPClient, remote: str, target: Path, size: int) -> None:
    local_size = (await asyncio.to_thread(target.stat)).st_size
    if local_size != size:
        raise ShellError(f"{target.name}: {local_size} bytes here, {size} on the server")
    server = await _server_hash(client, remote)
    algorithm = server[0] if server else "sha256"
    local = await asyncio.to_thread(_digest, target, algorithm)
    if server is not None and server[1] != local:
        raise ShellError(
            f"{target.name}: {algorithm} differs from the server's ({local} here, {server[1]} there)"
        )
    checked = "matches the server's" if server is not None else "(size checked; the server offers no HASH)"
    shell.print(f"{target.name}: {algorithm} {local} {checked}")
