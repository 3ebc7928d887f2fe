"""REPL verbs for the connection, remote folders and files, local folders and the session.

Transfers (get, put, mget, mput) live in `transfers.py`.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from aioftp_lite import FTPReplyError, RemoteEntry

from . import bookmarks, globbing, remote_paths
from .commands import Arg, Call, format_help, format_menu, verb
from .context import ShellContext
from .errors import ShellError
from .progress import format_size
from .target import parse_target

# --- connection --------------------------------------------------------------------


@verb("open", usage="open [URL | HOST [PORT]]", group="Connection", args=(Arg.TEXT, Arg.TEXT),
      needs_connection=False, summary="connect and log in",
      details="""
      Connect to an FTP server: `open ftp://alice@example.org:2121/docs`, `open alice@host`,
      `open host 2121`, or a bookmark: `open work` (see bookmark). Without a user the login is
      anonymous; with a user and no password, ~/.netrc gives it or you are asked for it. A bare
      `open` reconnects to the last server, in the last remote folder.
      """)  # fmt: skip
async def open_(shell: ShellContext, call: Call) -> None:
    if not call.args:
        target = shell.reconnect_target()
        if target is None:
            raise ShellError("no server to reconnect to: open HOST or open ftp://user@host")
    else:
        target = bookmarks.lookup(call.args[0]) or parse_target(call.args[0])
        if len(call.args) == 2:
            if not call.args[1].isdigit() or not 0 < int(call.args[1]) < 65536:
                raise ShellError(f"bad port {call.args[1]!r}")
            target = target.with_overrides(port=int(call.args[1]))
    await shell.open(target)


@verb("close", usage="close", group="Connection", summary="log out and disconnect", needs_connection=False,
      details="Say goodbye to the server (QUIT). `open` alone connects again.")  # fmt: skip
async def close(shell: ShellContext, call: Call) -> None:
    await shell.disconnect()


# --- remote folders and files ------------------------------------------------------


class Entry(Protocol):
    """What `ls` and `lls` show of a remote or a local file."""

    @property
    def name(self) -> str: ...

    @property
    def is_dir(self) -> bool: ...

    @property
    def size(self) -> int | None: ...

    @property
    def mtime(self) -> float | None: ...  # seconds since the epoch


def format_entries(entries: Iterable[Entry]) -> list[str]:
    """`ls` lines: size, date, name (folders end in /)."""
    lines = []
    for entry in entries:
        size = "-" if entry.is_dir or entry.size is None else format_size(entry.size)
        lines.append(f"{size:>10}  {_format_time(entry.mtime)}  {entry.name}{'/' if entry.is_dir else ''}")
    return lines


def _format_time(mtime: float | None) -> str:
    if mtime is None:
        return " " * 16
    return datetime.datetime.fromtimestamp(mtime, datetime.UTC).astimezone().strftime("%Y-%m-%d %H:%M")


LS_OPTIONS = {
    "-l": "long listing: type and permissions, owner, group, exact size, date",
    "-a": "all: names starting with . too",
    "-R": "recursive: each folder below, one after another",
}


@verb("ls", usage="ls [-l] [-a] [-R] [PATH | PATTERN]", group="Remote files", args=(Arg.REMOTE,),
      aliases=("dir",), options=LS_OPTIONS, summary="list a remote folder",
      details="""
      List the remote folder (the current one by default) with sizes and dates; folders end in
      `/`. A pattern such as `ls *.txt` or `ls docs/*.csv` lists the matching names only. Names
      starting with . are left out unless -a is given (or the pattern starts with .).
      """)  # fmt: skip
async def ls(shell: ShellContext, call: Call) -> None:
    shell.require_client()
    path = call.args[0] if call.args else ""
    pattern = ""
    if remote_paths.has_glob(remote_paths.basename(path)):
        path, pattern = remote_paths.split_partial(path)
    long, hidden = "-l" in call.flags, "-a" in call.flags or pattern.startswith(".")
    entries = await _listing(shell, path, long)
    shown = _visible(entries, hidden)
    if pattern:
        shown = [entry for entry in shown if fnmatch.fnmatchcase(entry.name, pattern)]
        if not shown:
            raise ShellError(f"no remote name matches {pattern!r}")
    for line in format_long(shown) if long else format_entries(shown):
        shell.print(line)
    if "-R" in call.flags:
        folders = [entry.name for entry in shown if entry.is_dir]
        await _list_below(shell, path.rstrip("/") or ".", folders, long=long, hidden=hidden)


async def _listing(shell: ShellContext, path: str, long: bool) -> list[RemoteEntry]:
    """A folder's entries; for `ls -l`, with the modes and owners of a LIST where MLSD had none."""
    client = shell.require_client()
    entries = await client.list(path)
    shell.cache.store(shell.remote(path or "."), entries)
    if not long or any("unix.mode" in entry.facts for entry in entries):
        return entries
    try:
        lines = {entry.name: entry.facts for entry in await client.list(path, mlsd=False)}
    except FTPReplyError:
        return entries
    return [
        dataclasses.replace(entry, facts={**lines.get(entry.name, {}), **entry.facts}) for entry in entries
    ]


def _visible(entries: Iterable[RemoteEntry], hidden: bool) -> list[RemoteEntry]:
    return sorted((entry for entry in entries if hidden or not entry.name.startswith(".")),
                  key=lambda entry: entry.name)  # fmt: skip


async def _list_below(
    shell: ShellContext, parent: str, folders: list[str], *, long: bool, hidden: bool
) -> None:
    """`ls -R`: each folder's listing under a `path:` heading, depth first as ls does."""
    for name in folders:
        folder = f"{parent}/{name}" if parent != "." else name
        shown = _visible(await _listing(shell, folder, long), hidden)
        shell.print()
        shell.print(f"{folder}:")
        for line in format_long(shown) if long else format_entries(shown):
            shell.print(line)
        await _list_below(
            shell, folder, [entry.name for entry in shown if entry.is_dir], long=long, hidden=hidden
        )


def format_long(entries: Iterable[RemoteEntry]) -> list[str]:
    """`ls -l` lines: `drwxr-xr-x alice    staff        4096 2024-01-05 10:30  name`."""
    lines = []
    for entry in entries:
        facts = entry.facts
        kind = "l" if entry.is_link else "d" if entry.is_dir else "-"
        mode = _mode_text(facts.get("unix.mode", ""))
        owner = facts.get("unix.owner") or facts.get("unix.uid") or "-"
        group = facts.get("unix.group") or facts.get("unix.gid") or "-"
        size = "-" if entry.size is None else str(entry.size)
        name = entry.name + ("/" if entry.is_dir else "")
        if facts.get("link"):
            name += f" -> {facts['link']}"
        lines.append(f"{kind}{mode} {owner:<8} {group:<8} {size:>12}  {_format_time(entry.mtime)}  {name}")
    return lines


def _mode_text(mode: str) -> str:
    """`0644` (MLSD's unix.mode) or `rw-r--r--` (a LIST line's) as `rw-r--r--`."""
    if len(mode) == 9 and set(mode) <= set("rwxsStT-"):
        return mode
    mode = mode.removeprefix("0o")  # pyftpdlib writes 0o644
    if mode.isdigit() and set(mode) <= set("01234567"):
        bits = int(mode, 8)
        return "".join(
            letter if bits & (1 << (8 - index)) else "-" for index, letter in enumerate("rwxrwxrwx")
        )
    return "?" * 9


@verb("cd", usage="cd [FOLDER]", group="Remote files", args=(Arg.REMOTE_FOLDER,),
      summary="change the remote folder",
      details="`cd ..` goes up, `cd /` to the top, `cd` alone to the login folder.")  # fmt: skip
async def cd(shell: ShellContext, call: Call) -> None:
    client = shell.require_client()
    home = shell.target.path if shell.target is not None and shell.target.path else "/"
    await client.cwd(call.args[0] if call.args else home)
    shell.remote_cwd = await client.pwd()
    shell.cache.invalidate(shell.remote_cwd)  # fresh names in the folder we just entered


@verb("pwd", usage="pwd", group="Remote files", summary="show the remote folder")  # fmt: skip
async def pwd(shell: ShellContext, call: Call) -> None:
    shell.remote_cwd = await shell.require_client().pwd()
    shell.print(shell.remote_cwd)


@verb("rm", usage="rm PATH...", group="Remote files", args=(Arg.REMOTE,), repeat_last=True, required=1,
      aliases=("delete",), summary="delete remote files",
      details="""
      Delete one or more remote files (use rmdir for folders). Globs are expanded, in folder
      parts too: `rm *.tmp`, `rm "logs/*/old-*"`.
      """)  # fmt: skip
async def rm(shell: ShellContext, call: Call) -> None:
    client = shell.require_client()
    for path in await globbing.expand_all(shell, call.args):
        try:
            await client.delete(path)
        finally:
            shell.changed(path)


@verb("mrm", usage="mrm PATTERN...", group="Remote files", args=(Arg.REMOTE,), repeat_last=True, required=1,
      aliases=("mdelete",), summary="delete every remote file matching patterns",
      details="""
      Delete the remote files matching each pattern (`mrm *.bak "old logs/*.gz"`); folders are
      left alone. Stops at the first failure.
      """)  # fmt: skip
async def mrm(shell: ShellContext, call: Call) -> None:
    await rm.handler(shell, call)


@verb("mkdir", usage="mkdir FOLDER...", group="Remote files", args=(Arg.REMOTE_FOLDER,), repeat_last=True,
      required=1, summary="create remote folders")  # fmt: skip
async def mkdir(shell: ShellContext, call: Call) -> None:
    client = shell.require_client()
    for path in call.args:
        await client.mkdir(path)
        shell.changed(path)


@verb("rmdir", usage="rmdir FOLDER...", group="Remote files", args=(Arg.REMOTE_FOLDER,), repeat_last=True,
      required=1, summary="remove empty remote folders")  # fmt: skip
async def rmdir(shell: ShellContext, call: Call) -> None:
    client = shell.require_client()
    for path in call.args:
        await client.rmdir(path.rstrip("/") or path)
        shell.changed(path.rstrip("/") or path)


@verb("mv", usage="mv SOURCE TARGET", group="Remote files", args=(Arg.REMOTE, Arg.REMOTE), required=2,
      aliases=("rename",), summary="rename or move a remote file or folder",
      details="A TARGET that is an existing folder (or ends in /) receives SOURCE under its own name.")  # fmt: skip
async def mv(shell: ShellContext, call: Call) -> None:
    client = shell.require_client()
    source, target = call.args
    if target.endswith("/") or await shell.is_remote_folder(target):
        target = target.rstrip("/") + "/" + remote_paths.basename(source)
    await client.rename(source, target)
    shell.changed(source, target)


# --- local folders ----------------------------------------------------------------


@verb("lcd", usage="lcd [FOLDER]", group="Local files", args=(Arg.LOCAL_FOLDER,), needs_connection=False,
      summary="change the local folder", details="Without a folder, go to your home folder.")  # fmt: skip
async def lcd(shell: ShellContext, call: Call) -> None:
    folder = shell.local(call.args[0]) if call.args else Path.home()
    if not folder.is_dir():
        raise ShellError(f"no such local folder: {folder}")
    if not os.access(folder, os.X_OK):
        raise ShellError(f"permission denied: {folder}")
    shell.local_dir = folder.resolve()
    shell.print(f"local folder: {shell.local_dir}")


@verb("lls", usage="lls [PATH]", group="Local files", args=(Arg.LOCAL,), needs_connection=False,
      summary="list a local folder")  # fmt: skip
async def lls(shell: ShellContext, call: Call) -> None:
    path = shell.local(call.args[0]) if call.args else shell.local_dir
    if path.is_dir():
        children = sorted(path.iterdir(), key=lambda child: child.name)
    elif path.exists():
        children = [path]
    else:
        raise ShellError(f"no such local file or folder: {path}")
    for line in format_entries(_LocalEntry(child) for child in children):
        shell.print(line)


class _LocalEntry:
    """A local file seen through the same fields as a remote entry, for `format_entries`."""

    def __init__(self, path: Path) -> None:
        info = path.stat()
        self.name = path.name
        self.is_dir = path.is_dir()
        self.size = info.st_size
        self.mtime = info.st_mtime


@verb("lpwd", usage="lpwd", group="Local files", needs_connection=False, summary="show the local folder")  # fmt: skip
async def lpwd(shell: ShellContext, call: Call) -> None:
    shell.print(str(shell.local_dir))


# --- session ---------------------------------------------------------------------


@verb("help", usage="help [COMMAND]", group="Session", args=(Arg.COMMAND,), needs_connection=False,
      aliases=("?",), summary="list the commands, or explain one")  # fmt: skip
async def help_(shell: ShellContext, call: Call) -> None:
    shell.print(format_help(call.args[0]) if call.args else format_menu())


@verb("quit", usage="quit", group="Session", needs_connection=False, aliases=("exit", "bye"),
      summary="disconnect and leave", details="Ctrl-D at the prompt does the same.")  # fmt: skip
async def quit_(shell: ShellContext, call: Call) -> None:
    if not await leave_jobs(shell):
        return
    await shell.disconnect()
    shell.finished = True


async def leave_jobs(shell: ShellContext) -> bool:
    """Jobs running: the REPL asks whether to stop them; batch mode waits for them."""
    running = shell.jobs.running()
    if not running:
        return True
    if shell.confirm is None:
        await shell.jobs.wait_all()
        return True
    if not await shell.confirm(f"{len(running)} job(s) running: stop them and quit? [y/N] "):
        return False
    await shell.jobs.stop_all()
    return True
