"""REPL verbs that move file data: get, put, mget, mput (with `-c` to resume).

Each transfer shows a progress bar on a terminal and ends with a summary line. An
interrupted transfer (Ctrl-C cancels its task; the client sends ABOR) reports how far
it got: a partial download stays on disk for `get -c` to resume.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import shlex
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from aioftp_lite import FTPClient, FTPReplyError

from . import globbing, remote_paths
from .commands import Arg, Call, verb
from .context import ShellContext
from .errors import ShellError
from .mirror import copy_tree
from .progress import Progress, format_duration, format_rate, format_size

RESUME = {"-c": "continue: resume a partial transfer from where it stopped"}
RECURSIVE = {"-r": "recursive: the whole folder, as `mirror` copies it (identical files are skipped)"}


class LocalSink:
    """The local file of a download, opened only when the first bytes arrive.

    So a download the server refuses (550) never creates or truncates a local file.
    A fresh download creates the file; a resume (offset > 0) writes into the existing
    one from the offset. `position` is how far the file on disk goes.
    """

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.position = offset
        self._file: IO[bytes] | None = None

    @property
    def opened(self) -> bool:
        return self._file is not None

    def seek(self, offset: int) -> int:
        """The client seeks to the resume offset before the first write."""
        if self._file is not None:
            self._file.seek(offset)
        self.position = offset
        return offset

    def write(self, data: bytes) -> int:
        if self._file is None:
            self._file = open(self.path, "r+b" if self.position else "wb")  # noqa: SIM115 - see close()
            self._file.seek(self.position)
        written = self._file.write(data)
        self.position += written
        return written

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def _remote_size(client: FTPClient, path: str) -> int | None:
    """The remote size if the server tells it (SIZE is an extension; some refuse it)."""
    try:
        return await client.size(path)
    except FTPReplyError:
        return None


def _local_size(path: Path) -> int | None:
    """A local file's size; -1 if there is nothing there, None if it is a folder (blocking)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return -1
    return None if stat.S_ISDIR(info.st_mode) else info.st_size


def local_target(shell: ShellContext, remote: str, local: str | None) -> Path:
    name = remote_paths.basename(remote)
    if local is None:
        return shell.local_dir / name
    path = shell.local(local)
    return path / name if path.is_dir() or local.endswith("/") else path


async def download(shell: ShellContext, remote: str, target: Path, *, resume: bool, again: str = "") -> int:
    """Fetch one file; returns the bytes received. `again`: the command that resumes it, when
    it is one of several (`mget -c *.txt`): an interruption then names the file and that command."""
    client = shell.require_client()
    existing = await asyncio.to_thread(_local_size, target)
    if existing is None:
        raise ShellError(f"a local folder is in the way: {target}")
    total = await _remote_size(client, remote)
    offset = max(existing, 0) if resume else 0  # nothing there yet: a resume starts at 0
    label = remote_paths.basename(remote)
    if resume and total is not None and offset >= total:
        shell.print(f"{label}: already complete ({format_size(offset)})")
        return 0
    progress = shell.progress = Progress(
        label, total, shell.out, start_at=offset, show_bar=shell.show_progress
    )
    sink = LocalSink(target, offset)
    shell.transfer_state = f"getting {label}"
    try:
        received = await client.download(remote, sink, offset=offset, progress=progress.update)
    except BaseException as error:
        progress.clear()
        _report_interruption(shell, "get", label, sink.position, total, error, again)
        raise
    finally:
        sink.close()
    if not sink.opened and offset == 0:
        await asyncio.to_thread(target.write_bytes, b"")  # an empty remote file is still a file
    progress.done = offset + received
    progress.clear()
    shell.transfer_state = progress.summary("got")
    shell.print(shell.transfer_state)
    return received


async def upload(shell: ShellContext, source: Path, remote: str, *, resume: bool, again: str = "") -> int:
    """Send one file; returns the bytes sent."""
    client = shell.require_client()
    total = await asyncio.to_thread(_local_size, source)
    if total is None:
        raise ShellError(f"{source} is a folder (mput FOLDER/* sends its files)")
    if total < 0:
        raise ShellError(f"no such local file: {source}")
    offset = (await _remote_size(client, remote) or 0) if resume else 0
    label = remote_paths.basename(remote)
    if offset > total:
        raise ShellError(f"the remote {label} is larger than the local file; nothing to resume")
    if resume and offset == total:
        shell.print(f"{label}: already complete ({format_size(offset)})")
        return 0
    progress = shell.progress = Progress(
        label, total, shell.out, start_at=offset, show_bar=shell.show_progress
    )
    shell.transfer_state = f"sending {label}"
    local_file = await asyncio.to_thread(open, source, "rb")
    try:
        sent = await client.upload(local_file, remote, offset=offset, progress=progress.update)
    except BaseException as error:
        progress.clear()
        _report_interruption(shell, "put", label, progress.done, total, error, again)
        raise
    finally:
        local_file.close()
        shell.changed(remote)
    progress.done = offset + sent
    progress.clear()
    shell.transfer_state = progress.summary("sent")
    shell.print(shell.transfer_state)
    return sent


def _report_interruption(shell: ShellContext, verb_name: str, label: str, done: int, total: int | None,
                         error: BaseException, again: str = "") -> None:  # fmt: skip
    """Say how far an interrupted transfer got; the shell prints it (Ctrl-C) or its own error.

    For a download, `done` is what is on disk, not what arrived: that is what `get -c` resumes from.
    One of several transfers (`again` set) names its file and the command that resumes them all.
    """
    where = f"at {format_size(done)}" + (f" of {format_size(total)}" if total else "")
    if isinstance(error, asyncio.CancelledError):
        shell.transfer_state = f"{verb_name} {label} interrupted {where}"
        if again:
            shell.interruption = f"{label} interrupted {where} (transfer aborted); `{again}` resumes"
            return
        hint = "; `get -c` resumes" if verb_name == "get" and done else ""
        shell.interruption = f"interrupted {where} (transfer aborted){hint}"
    else:
        shell.transfer_state = f"{verb_name} {label} failed {where}"


# --- the verbs ---------------------------------------------------------------------


@verb("get", usage="get [-c | -r] REMOTE [LOCAL]", group="Transfers", args=(Arg.REMOTE, Arg.LOCAL), required=1,
      options=RESUME | RECURSIVE, retry="-c", summary="download a file (or a folder with -r)",
      details="""
      Download REMOTE into the local folder (see lcd), or to LOCAL: a file name, or a folder
      to put it in. With -c, a partial local file is completed from where it stops.
      Ctrl-C aborts the transfer and keeps what arrived. With -r, REMOTE is a folder, copied
      with all it holds into LOCAL (by default a folder of the same name).
      """)  # fmt: skip
async def get(shell: ShellContext, call: Call) -> None:
    if "-r" in call.flags:
        await copy_tree(shell, call, up=False)
        return
    remote = call.args[0]
    target = local_target(shell, remote, call.args[1] if len(call.args) > 1 else None)
    await download(shell, remote, target, resume="-c" in call.flags)


@verb("put", usage="put [-c | -r] LOCAL [REMOTE]", group="Transfers", args=(Arg.LOCAL, Arg.REMOTE), required=1,
      options=RESUME | RECURSIVE, summary="upload a file (or a folder with -r)",
      details="""
      Upload LOCAL into the remote folder under its own name, or as REMOTE (an existing remote
      folder, or a REMOTE ending in /, receives it under its own name). With -c, a partial
      remote file is completed from where it stops. With -r, LOCAL is a folder, copied with all
      it holds into REMOTE (by default a folder of the same name).
      """)  # fmt: skip
async def put(shell: ShellContext, call: Call) -> None:
    if "-r" in call.flags:
        await copy_tree(shell, call, up=True)
        return
    source = shell.local(call.args[0])
    remote = call.args[1] if len(call.args) > 1 else source.name
    if remote.endswith("/") or (len(call.args) > 1 and await shell.is_remote_folder(remote)):
        remote = remote.rstrip("/") + "/" + source.name  # a folder receives the file, as for get and mv
    await upload(shell, source, remote, resume="-c" in call.flags)


@verb("mget", usage="mget [-c] PATTERN...", group="Transfers", args=(Arg.REMOTE,), repeat_last=True,
      required=1, options=RESUME, retry="-c", summary="download every file matching patterns",
      details="""
      Download the remote files matching each pattern (`mget *.txt docs/*.csv`) into the local
      folder. Patterns use *, ? and [abc]; folders are skipped. Stops at the first failure.
      """)  # fmt: skip
async def mget(shell: ShellContext, call: Call) -> None:
    remotes = await globbing.expand_all(shell, call.args)
    resume = "-c" in call.flags
    again = shlex.join(["mget", "-c", *call.args])
    await _many(shell, "got", [functools.partial(download, shell, remote, local_target(shell, remote, None),
                                                 resume=resume, again=again) for remote in remotes])  # fmt: skip


@verb("mput", usage="mput [-c] PATTERN...", group="Transfers", args=(Arg.LOCAL,), repeat_last=True,
      required=1, options=RESUME, summary="upload every local file matching patterns",
      details="""
      Upload the local files matching each pattern (`mput *.jpg reports/*.pdf`) into the remote
      folder, each under its own name. Folders are skipped. Stops at the first failure.
      """)  # fmt: skip
async def mput(shell: ShellContext, call: Call) -> None:
    shell.require_client()
    sources: list[Path] = []
    for pattern in call.args:
        found = sorted(glob.glob(pattern, root_dir=shell.local_dir)) if glob.has_magic(pattern) else [pattern]
        files = [shell.local(name) for name in found if shell.local(name).is_file()]
        if not files:
            raise ShellError(f"no local file matches {pattern!r}")
        sources += files
    resume = "-c" in call.flags
    await _many(shell, "sent", [functools.partial(upload, shell, source, source.name, resume=resume)
                                for source in sources])  # fmt: skip


async def _many(shell: ShellContext, verb_done: str, transfers: list[Callable[[], Awaitable[int]]]) -> None:
    """Run transfers one after another, then a total line when there were several."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    moved = 0
    for transfer in transfers:
        moved += await transfer()
    if len(transfers) > 1:
        elapsed = loop.time() - started
        rate = format_rate(moved / elapsed) if elapsed > 0 else "-"
        shell.print(
            f"{verb_done} {len(transfers)} files: {format_size(moved)} in {format_duration(elapsed)} ({rate})"
        )
