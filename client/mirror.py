"""Recursive transfers: `mirror` (down, or up with -R), and `get -r` / `put -r` built on it.

Three steps. Both trees are read (remote: one listing per folder; local: os.walk in a
thread). `plan` then decides, purely, what to do with each path: create a folder, copy
a file, skip it as identical (same size, same time within the precision of the
listing), skip it as not newer (--only-newer), or delete it from the target (--delete).
Last, the copies run, on N connections with --parallel N, and file times are kept:
MLSD's `modify` (or MDTM) sets the local time after a download, MFMT the remote time
after an upload where the server has it. So a second run finds everything identical.

The progress is one bar for the whole mirror, and one line per file as it finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aioftp_lite import FTPClient, FTPReplyError

from . import remote_paths
from .commands import Arg, Call, verb
from .context import ShellContext
from .errors import ShellError
from .progress import Progress, format_duration, format_rate, format_size, format_summary

PRECISE = 1.0  # seconds two times may differ and still be the same (FAT keeps two-second times)
COARSE = 86_400.0  # a LIST line's time: minutes for recent files, only the day for older ones


@dataclass(frozen=True, slots=True)
class FileInfo:
    size: int
    mtime: float | None
    precise: bool = True  # the time is to the second (MLSD, MDTM, a local file), not a LIST line's


# relative POSIX path -> the file, or None for a folder
Tree = dict[str, FileInfo | None]


@dataclass
class Plan:
    folders: list[str] = field(default_factory=list)  # to create in the target, parents first
    copy: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)  # identical already
    older: list[str] = field(default_factory=list)  # not newer than the target's (--only-newer)
    delete: list[str] = field(default_factory=list)  # only in the target (--delete), deepest first


def identical(source: FileInfo, target: FileInfo, *, target_keeps_times: bool = True) -> bool:
    """Same size and same time. Where the target cannot be given a time (no MFMT), a target
    file at least as new as the source counts as the copy made of it last time."""
    if source.size != target.size or source.mtime is None or target.mtime is None:
        return False
    slack = PRECISE if source.precise and target.precise else COARSE
    if not target_keeps_times:
        return target.mtime >= source.mtime - slack
    return abs(source.mtime - target.mtime) <= slack


def plan(source: Tree, target: Tree, *, only_newer: bool = False, delete: bool = False,
         target_keeps_times: bool = True) -> Plan:  # fmt: skip
    """What to do to make `target` a copy of `source` (pure)."""
    result = Plan()
    for path in sorted(source):
        info, there = source[path], target.get(path, None)
        if info is None:
            if path not in target or there is not None:
                result.folders.append(path)
            continue
        if there is None:  # missing, or a folder in the way (the copy reports it)
            result.copy.append(path)
        elif identical(info, there, target_keeps_times=target_keeps_times):
            result.same.append(path)
        elif only_newer and info.mtime is not None and there.mtime is not None and info.mtime <= there.mtime:
            result.older.append(path)
        else:
            result.copy.append(path)
    if delete:
        extra = [path for path in target if path not in source]
        result.delete = sorted(extra, key=lambda path: (-path.count("/"), path))
    return result


# --- reading the trees --------------------------------------------------------------


async def remote_tree(client: FTPClient, root: str, *, exact_times: bool = True) -> Tree:
    """Every file and folder under the remote folder `root` (links are taken as files).
    With `exact_times`, a file listed by LIST gets its time from MDTM."""
    tree: Tree = {}
    pending = [""]
    while pending:
        relative = pending.pop()
        for entry in await client.list(_join(root, relative)):
            path = posixpath.join(relative, entry.name) if relative else entry.name
            if entry.is_dir:
                tree[path] = None
                pending.append(path)
            elif "modify" in entry.facts or not exact_times:
                tree[path] = FileInfo(entry.size or 0, entry.mtime, precise="modify" in entry.facts)
            else:  # a LIST line: ask MDTM for the time to the second
                tree[path] = await _exact(client, _join(root, path), entry.size or 0, entry.mtime)
    return tree


async def _exact(client: FTPClient, path: str, size: int, listed: float | None) -> FileInfo:
    try:
        return FileInfo(size, await client.mtime(path))
    except FTPReplyError:
        return FileInfo(size, listed, precise=False)


def local_tree(root: Path) -> Tree:
    """Every file and folder under `root` (blocking; symbolic links to folders are not followed)."""
    tree: Tree = {}
    for folder, folders, files in os.walk(root):
        relative = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        for name in folders:
            tree[prefix + name] = None
        for name in files:
            try:
                info = (Path(folder) / name).stat()
            except OSError:  # a dangling link
                continue
            if stat.S_ISREG(info.st_mode):
                tree[prefix + name] = FileInfo(info.st_size, info.st_mtime)
    return tree


def _join(root: str, relative: str) -> str:
    if not relative:
        return root
    return posixpath.join(root, relative) if root else relative


# --- running it ---------------------------------------------------------------------


@dataclass
class Direction:
    """Which way files go, as the steps need it."""

    up: bool
    remote_root: str
    local_root: Path


class Mirror:
    def __init__(self, shell: ShellContext, direction: Direction, *, parallel: int, only_newer: bool,
                 delete: bool) -> None:  # fmt: skip
        self.shell = shell
        self.direction = direction
        self.parallel = parallel
        self.only_newer = only_newer
        self.delete = delete
        self.progress: Progress | None = None
        self._done: dict[str, int] = {}

    async def run(self) -> None:
        shell, direction = self.shell, self.direction
        client = shell.require_client()
        loop = asyncio.get_running_loop()
        started = loop.time()
        remote, local = await self._trees(client)
        keeps_times = "MFMT" in client.features if direction.up else True
        source, target = (local, remote) if direction.up else (remote, local)
        todo = plan(
            source, target, only_newer=self.only_newer, delete=self.delete, target_keeps_times=keeps_times
        )
        await self._make_folders(client, todo.folders)
        total = sum(info.size for path in todo.copy if (info := source[path]) is not None)
        label = f"mirror {remote_paths.basename(direction.remote_root or '.')}"
        self.progress = shell.progress = Progress(label, total, shell.out, show_bar=shell.show_progress)
        shell.transfer_state = f"{label}: {len(todo.copy)} files"
        try:
            await self._copy_all(client, todo.copy, source)
        finally:
            self.progress.clear()
        deleted = await self._delete(client, todo.delete, target)
        elapsed = loop.time() - started
        moved = self.progress.done
        rate = format_rate(moved / elapsed) if elapsed > 0 else "-"
        verb_done = "sent" if direction.up else "got"
        parts = [
            f"{verb_done} {len(todo.copy)} files: {format_size(moved)} in {format_duration(elapsed)} ({rate})"
        ]
        if todo.same:
            parts.append(f"{len(todo.same)} identical")
        if todo.older:
            parts.append(f"{len(todo.older)} not newer")
        if todo.folders:
            parts.append(f"{len(todo.folders)} folders made")
        if self.delete:
            parts.append(f"{deleted} deleted")
        shell.transfer_state = f"{label}: " + ", ".join(parts)
        shell.print(shell.transfer_state)

    async def _trees(self, client: FTPClient) -> tuple[Tree, Tree]:
        direction = self.direction
        local_exists = await asyncio.to_thread(direction.local_root.is_dir)
        remote_exists = await self.shell.is_remote_folder(direction.remote_root or ".")
        if direction.up and not local_exists:
            raise ShellError(f"no such local folder: {direction.local_root}")
        if not direction.up and not remote_exists:
            raise ShellError(f"no such remote folder: {direction.remote_root}")
        remote = await remote_tree(client, direction.remote_root) if remote_exists else {}
        local = await asyncio.to_thread(local_tree, direction.local_root) if local_exists else {}
        if direction.up and not remote_exists:
            await client.mkdir(direction.remote_root)
            self.shell.changed(direction.remote_root)
        elif not direction.up and not local_exists:
            await asyncio.to_thread(direction.local_root.mkdir, parents=True)
        return remote, local

    async def _make_folders(self, client: FTPClient, folders: list[str]) -> None:
        for path in folders:
            if self.direction.up:
                await client.mkdir(_join(self.direction.remote_root, path))
                self.shell.changed(_join(self.direction.remote_root, path))
            else:
                await asyncio.to_thread((self.direction.local_root / path).mkdir, exist_ok=True)

    async def _copy_all(self, client: FTPClient, paths: list[str], source: Tree) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for path in paths:
            queue.put_nowait(path)
        clients = [client]
        try:
            for _ in range(min(self.parallel, len(paths)) - 1):
                clients.append(await self.shell.connect_again())
            async with asyncio.TaskGroup() as group:
                for worker in clients:
                    group.create_task(self._worker(worker, queue, source))
        except BaseExceptionGroup as errors:  # the first failure, as one line
            raise errors.exceptions[0] from None
        finally:
            for extra in clients[1:]:
                await extra.quit()

    async def _worker(self, client: FTPClient, queue: asyncio.Queue[str], source: Tree) -> None:
        while not queue.empty():
            path = queue.get_nowait()
            info = source[path]
            assert info is not None
            await self._copy(client, path, info)

    def _moved(self, path: str) -> Callable[[int], None]:
        def update(position: int) -> None:
            self._done[path] = position
            assert self.progress is not None
            self.progress.update(sum(self._done.values()))

        return update

    async def _copy(self, client: FTPClient, path: str, info: FileInfo) -> None:
        remote = _join(self.direction.remote_root, path)
        local = self.direction.local_root / path
        clock = asyncio.get_running_loop().time
        started = clock()
        if self.direction.up:
            await _upload(client, local, remote, info, self._moved(path))
            self.shell.changed(remote)
        else:
            await _download(client, remote, local, info, self._moved(path))
        assert self.progress is not None
        self.progress.clear()
        self.shell.print(
            format_summary("sent" if self.direction.up else "got", path, info.size, clock() - started)
        )

    async def _delete(self, client: FTPClient, paths: list[str], target: Tree) -> int:
        for path in paths:
            if self.direction.up:
                remote = _join(self.direction.remote_root, path)
                await (client.rmdir(remote) if target[path] is None else client.delete(remote))
                self.shell.changed(remote)
            else:
                local = self.direction.local_root / path
                await asyncio.to_thread(local.rmdir if target[path] is None else local.unlink)
            self.shell.print(f"deleted {path}{'/' if target[path] is None else ''}")
        return len(paths)


async def _download(client: FTPClient, remote: str, local: Path, info: FileInfo,
                    progress: Callable[[int], None]) -> None:  # fmt: skip
    mtime = info.mtime
    with await asyncio.to_thread(open, local, "wb") as sink:
        await client.download(remote, sink, progress=progress)
    if mtime is not None:
        await asyncio.to_thread(os.utime, local, (mtime, mtime))


async def _upload(client: FTPClient, local: Path, remote: str, info: FileInfo,
                  progress: Callable[[int], None]) -> None:  # fmt: skip
    with await asyncio.to_thread(open, local, "rb") as source:
        await client.upload(source, remote, progress=progress)
    if info.mtime is not None and "MFMT" in client.features:
        with contextlib.suppress(FTPReplyError):  # the copy is made; only its time is the upload's
            await client.set_mtime(remote, info.mtime)


# --- the verbs ------------------------------------------------------------------------

MIRROR_OPTIONS = {
    "-R": "reverse: upload the local SOURCE folder to the remote TARGET",
    "--parallel N": "copy N files at a time, each on its own connection (default 1)",
    "--only-newer": "copy only files newer than the target's copy (or missing there)",
    "--delete": "delete target files and folders that the source does not have",
}


@verb("mirror", usage="mirror [-R] [--parallel N] [--only-newer] [--delete] SOURCE [TARGET]", group="Transfers",
      args=(Arg.REMOTE, Arg.LOCAL), required=1, options=MIRROR_OPTIONS, swap_flag="-R", retry="",
      summary="copy a folder tree, down (or up with -R)",
      details="""
      Make TARGET a copy of SOURCE, folders and all. Down by default: SOURCE is a remote folder
      and TARGET a local one (by default the remote folder's name, in the local folder). With
      -R it goes up, as in lftp: `mirror -R site public_html`.

      Files already identical (same size and time) are skipped, so a second run copies only
      what changed. File times are kept: the remote time (MLSD or MDTM) on downloaded files,
      the local time on uploaded files where the server has MFMT. One progress bar counts the
      whole tree, and a line tells each file done.
      """)  # fmt: skip
async def mirror(shell: ShellContext, call: Call) -> None:
    parallel = call.value("--parallel", 1, most=16)
    up = "-R" in call.flags
    source, target = call.args[0], call.args[1] if len(call.args) > 1 else None
    await run_mirror(shell, source, target, up=up, parallel=parallel, only_newer="--only-newer" in call.flags,
                     delete="--delete" in call.flags)  # fmt: skip


async def run_mirror(shell: ShellContext, source: str, target: str | None, *, up: bool, parallel: int = 1,
                     only_newer: bool = False, delete: bool = False) -> None:  # fmt: skip
    if up:
        local_root = shell.local(source)
        remote_root = target if target is not None else local_root.resolve().name
    else:
        remote_root = source.rstrip("/") or "/"
        default = remote_paths.basename(shell.remote(remote_root)) if remote_root not in (".", "/") else ""
        local_root = shell.local(target) if target is not None else shell.local_dir / default
    direction = Direction(up, remote_root, local_root)
    await Mirror(shell, direction, parallel=parallel, only_newer=only_newer, delete=delete).run()


async def copy_tree(shell: ShellContext, call: Call, *, up: bool) -> None:
    """`get -r` and `put -r`: a mirror without deletions, into the named or same-named folder."""
    source, target = call.args[0], call.args[1] if len(call.args) > 1 else None
    await run_mirror(shell, source, target, up=up)
