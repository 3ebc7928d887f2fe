"""Everyday verbs of an lftp user: cat, more, edit, !CMD, chmod, quote, site, du, find.

`more` and `edit` hand a downloaded copy to $PAGER or $EDITOR (run in a worker thread,
on the terminal); `edit` uploads the file again only if its bytes changed. `du` and
`find` walk the remote tree with one listing per folder, as `mirror` does.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import posixpath
import shlex
import subprocess
import tempfile
from pathlib import Path

from aioftp_lite import FTPReplyError
from aioftp_lite.protocol.replies import Reply

from . import globbing, remote_paths
from .commands import Arg, Call, verb
from .context import ShellContext
from .errors import ShellError
from .mirror import remote_tree
from .progress import format_size


async def _fetch(shell: ShellContext, path: str) -> bytes:
    buffer = io.BytesIO()
    await shell.require_client().download(path, buffer)
    return buffer.getvalue()


@verb("cat", usage="cat FILE...", group="Remote files", args=(Arg.REMOTE,), repeat_last=True, required=1,
      summary="print remote files", details="Print the remote files one after another (globs work).")  # fmt: skip
async def cat(shell: ShellContext, call: Call) -> None:
    for path in await globbing.expand_all(shell, call.args):
        shell.out.write((await _fetch(shell, path)).decode("utf-8", "replace"))
        shell.out.flush()


def _run_program(command: str, path: Path, what: str) -> None:
    """Run $PAGER or $EDITOR on `path` on our terminal (blocking: called in a thread)."""
    words = [*shlex.split(command), str(path)]
    try:
        status = subprocess.run(words, check=False).returncode
    except OSError as error:
        raise ShellError(f"{what} {words[0]!r}: {(error.strerror or str(error)).lower()}") from None
    if status:
        raise ShellError(f"{what} {words[0]!r} ended with status {status}")


@verb("more", usage="more FILE", group="Remote files", args=(Arg.REMOTE,), required=1, aliases=("less",),
      summary="page through a remote file ($PAGER)",
      details="Download FILE to a temporary file and show it with $PAGER (by default `less`).")  # fmt: skip
async def more(shell: ShellContext, call: Call) -> None:
    data = await _fetch(shell, call.args[0])
    with tempfile.TemporaryDirectory(prefix="aioftp-lite-") as folder:
        copy = Path(folder) / remote_paths.basename(call.args[0])
        await asyncio.to_thread(copy.write_bytes, data)
        await asyncio.to_thread(_run_program, os.environ.get("PAGER") or "less", copy, "$PAGER")


@verb("edit", usage="edit FILE", group="Remote files", args=(Arg.REMOTE,), required=1,
      summary="edit a remote file ($EDITOR), uploaded if changed",
      details="""
      Download FILE, open it in $EDITOR (or $VISUAL, by default `vi`), and upload it again if
      you changed it. A FILE that does not exist yet starts empty.
      """)  # fmt: skip
async def edit(shell: ShellContext, call: Call) -> None:
    path = call.args[0]
    try:
        data = await _fetch(shell, path)
    except FTPReplyError as error:
        if error.code != 550:
            raise
        data = b""  # a new file
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    with tempfile.TemporaryDirectory(prefix="aioftp-lite-") as folder:
        copy = Path(folder) / remote_paths.basename(path)
        await asyncio.to_thread(copy.write_bytes, data)
        await asyncio.to_thread(_run_program, editor, copy, "$EDITOR")
        edited = await asyncio.to_thread(copy.read_bytes)
        if hashlib.sha256(edited).digest() == hashlib.sha256(data).digest():
            shell.print(f"{path}: not changed, not uploaded")
            return
        await shell.require_client().upload(io.BytesIO(edited), path)
        shell.changed(path)
        shell.print(f"{path}: changed, uploaded ({format_size(len(edited))})")


@verb("!", usage="!COMMAND", group="Local files", args=(Arg.TEXT,), repeat_last=True, required=1, raw=True,
      needs_connection=False, summary="run a local shell command",
      details="`!ls -l`, `!vi notes.txt`: the rest of the line runs in /bin/sh, in the local folder.")  # fmt: skip
async def bang(shell: ShellContext, call: Call) -> None:
    process = await asyncio.create_subprocess_shell(" ".join(call.args), cwd=shell.local_dir)
    status = await process.wait()
    if status:
        raise ShellError(f"exit status {status}")


@verb("chmod", usage="chmod MODE FILE...", group="Remote files", args=(Arg.TEXT, Arg.REMOTE), repeat_last=True,
      required=2, summary="change remote permissions (SITE CHMOD)",
      details="`chmod 644 *.html`: MODE in octal, as the server's SITE CHMOD takes it; globs work.")  # fmt: skip
async def chmod(shell: ShellContext, call: Call) -> None:
    mode, *patterns = call.args
    if not (mode.isdigit() and set(mode) <= set("01234567") and len(mode) <= 4):
        raise ShellError(f"mode must be octal, such as 644 or 0755, not {mode!r}")
    client = shell.require_client()
    for path in await globbing.expand_all(shell, tuple(patterns), want="any"):
        await client.command(f"SITE CHMOD {mode} {path}")
        shell.changed(path)


def _print_reply(shell: ShellContext, reply: Reply) -> None:
    lines = reply.lines
    if len(lines) == 1:
        shell.print(f"{reply.code} {lines[0]}")
        return
    shell.print(f"{reply.code}-{lines[0]}")
    for line in lines[1:-1]:
        shell.print(line)
    shell.print(f"{reply.code} {lines[-1]}")


@verb("quote", usage="quote COMMAND [ARGS]", group="Session", args=(Arg.TEXT,), repeat_last=True, required=1,
      raw=True, summary="send a raw FTP command and show the reply",
      details="`quote HELP`, `quote STAT`, `quote MDTM a.txt`: sent as typed; the reply is printed.")  # fmt: skip
async def quote(shell: ShellContext, call: Call) -> None:
    line = " ".join(call.args)
    if line.split()[0].upper() in ("PASV", "EPSV", "PORT", "EPRT", "RETR", "STOR", "LIST", "NLST", "MLSD"):
        raise ShellError("data commands cannot go through quote: use get, put and ls")
    reply = await shell.require_client().command(line)
    _print_reply(shell, reply)
    shell.cache.invalidate(shell.remote_cwd)  # who knows what it changed


@verb("site", usage="site ARGS", group="Session", args=(Arg.TEXT,), repeat_last=True, required=1, raw=True,
      summary="send a SITE command (server-specific)", details="`site help`, `site chmod 600 key.pem`.")  # fmt: skip
async def site(shell: ShellContext, call: Call) -> None:
    _print_reply(shell, await shell.require_client().command("SITE " + " ".join(call.args)))
    shell.cache.invalidate(shell.remote_cwd)


@verb("du", usage="du [-h] [-s] [PATH]", group="Remote files", args=(Arg.REMOTE_FOLDER,),
      options={"-h": "sizes as people read them (KiB, MiB)", "-s": "only the total"},
      summary="disk usage of a remote folder tree",
      details="The size of each folder under PATH (and PATH itself, last), in KiB unless -h.")  # fmt: skip
async def du(shell: ShellContext, call: Call) -> None:
    root = call.args[0] if call.args else "."
    tree = await remote_tree(shell.require_client(), root, exact_times=False)
    totals: dict[str, int] = {"": 0}
    for path, info in tree.items():
        if info is None:
            totals.setdefault(path, 0)
            continue
        folder = posixpath.dirname(path)
        while True:  # each folder up to the root counts the file
            totals[folder] = totals.get(folder, 0) + info.size
            if not folder:
                break
            folder = posixpath.dirname(folder)
    human = "-h" in call.flags
    shown = [""] if "-s" in call.flags else sorted(totals, key=lambda path: (-path.count("/"), path))
    if "" in shown:  # the root last, as du prints it
        shown.remove("")
        shown.append("")
    for path in shown:
        size = format_size(totals[path]) if human else str(-(-totals[path] // 1024))
        shell.print(f"{size}\t{posixpath.join(root, path) if path else root}")


@verb("find", usage="find [PATH]", group="Remote files", args=(Arg.REMOTE_FOLDER,),
      summary="list a remote tree, one path a line",
      details="Every file and folder under PATH (the current folder by default); folders end in /.")  # fmt: skip
async def find(shell: ShellContext, call: Call) -> None:
    root = call.args[0] if call.args else "."
    tree = await remote_tree(shell.require_client(), root, exact_times=False)
    shell.print(root.rstrip("/") + "/")
    for path in sorted(tree):
        shell.print(posixpath.join(root, path) + ("/" if tree[path] is None else ""))
