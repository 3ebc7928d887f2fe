"""Bookmarks: named places (`bookmark add work`, `open work`), kept in a file beside the history.

The file is `$XDG_DATA_HOME/aioftp-lite/bookmarks`, one `NAME<TAB>URL` a line (as lftp
keeps them), written with mode 600. A password goes into it only when asked for
(`bookmark add --save-password NAME`); otherwise `open NAME` finds the password where
any `open` does (~/.netrc) or asks for it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .commands import Arg, Call, verb
from .context import ShellContext
from .errors import ShellError, UsageError
from .target import Target, TargetError, parse_target

_NAME = re.compile(r"[\w.-]+")


def data_dir() -> Path:
    """$XDG_DATA_HOME/aioftp-lite, by default ~/.local/share/aioftp-lite."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aioftp-lite"


def bookmarks_path() -> Path:
    return data_dir() / "bookmarks"


def load(path: Path | None = None) -> dict[str, str]:
    """Name -> URL, in the file's order; lines that make no sense are skipped."""
    path = path or bookmarks_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    marks: dict[str, str] = {}
    for line in text.splitlines():
        name, _, url = line.partition("\t")
        if _NAME.fullmatch(name) and url.strip():
            marks[name] = url.strip()
    return marks


def save(marks: dict[str, str], path: Path | None = None) -> None:
    """Write the whole file: created 600, and put in place by a rename (never half-written)."""
    path = path or bookmarks_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # even if a stale .new file had other bits
        out.writelines(f"{name}\t{url}\n" for name, url in marks.items())
    os.replace(partial, path)


def lookup(name: str) -> Target | None:
    """The bookmark `name` as a target, or None if there is none by that name."""
    url = load().get(name) if _NAME.fullmatch(name) else None
    if url is None:
        return None
    try:
        return parse_target(url)
    except TargetError as error:
        raise ShellError(f"bookmark {name}: {error}") from None


def _here(shell: ShellContext) -> Target:
    """Where the shell is: its server, user and remote folder (relative to the login folder)."""
    if shell.target is None or not shell.connected:
        raise ShellError("not connected: give the URL (bookmark add NAME URL)")
    home = shell.target.path or "/"
    cwd = shell.remote_cwd
    if home == "/":
        path = cwd.lstrip("/")
    elif cwd == home or cwd.startswith(home.rstrip("/") + "/"):
        path = cwd[len(home) :].lstrip("/")
    else:
        path = cwd  # outside the login folder: an absolute path
    return Target(shell.target.host, shell.target.port, shell.target.user, shell.target.password, path,
                  shell.target.secure)  # fmt: skip


@verb("bookmark", usage="bookmark add NAME [URL] | list | del NAME", group="Connection",
      args=(Arg.TEXT, Arg.TEXT, Arg.TEXT), required=1, needs_connection=False,
      options={"--save-password": "add: keep the password in the bookmark too (the file is mode 600)"},
      summary="name places to `open` them by name",
      details="""
      `bookmark add work` names the current server and folder; `bookmark add work URL` names
      a URL. `open work` goes there. `bookmark list` shows them, `bookmark del work` forgets one.
      Passwords are not kept unless --save-password is given; ~/.netrc or a prompt supplies them.
      The bookmarks live in $XDG_DATA_HOME/aioftp-lite/bookmarks (mode 600).
      """)  # fmt: skip
async def bookmark(shell: ShellContext, call: Call) -> None:
    action, *rest = call.args
    marks = load()
    if action == "list" and not rest:
        if not marks:
            shell.print("no bookmarks (bookmark add NAME [URL])")
        width = max((len(name) for name in marks), default=0)
        for name, url in marks.items():
            shell.print(f"{name:<{width}}  {_masked(url)}")
    elif action in ("del", "delete", "rm") and len(rest) == 1:
        if rest[0] not in marks:
            raise ShellError(f"no bookmark {rest[0]!r}")
        del marks[rest[0]]
        save(marks)
    elif action == "add" and rest:
        name = rest[0]
        if not _NAME.fullmatch(name):
            raise ShellError(f"bad bookmark name {name!r}: letters, digits, '.', '-' and '_' only")
        target = parse_target(rest[1]) if len(rest) > 1 else _here(shell)
        marks[name] = target.url(with_password="--save-password" in call.flags)
        save(marks)
        shell.print(f"bookmark {name}: {_masked(marks[name])}")
    else:
        raise UsageError("usage: bookmark add NAME [URL] | list | del NAME")


def _masked(url: str) -> str:
    """A URL for the screen: a saved password shows as ***."""
    target = parse_target(url)
    shown = target.url()
    return shown.replace("@", ":***@", 1) if target.password is not None else shown
