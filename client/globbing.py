"""Remote globs, in folder parts too: `mget "a dir/*/*.txt"`, `mrm logs/2024-*/*.gz`.

Each part of a pattern with *, ? or [abc] is matched against a listing of the folders
found so far (one listing per folder, kept in the shell's cache for completion);
parts without them are taken as they are. As in a shell, a name starting with `.`
matches only a part that starts with `.` too.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from . import remote_paths
from .context import ShellContext
from .errors import ShellError

Want = Literal["files", "folders", "any"]


def _matches(name: str, part: str) -> bool:
    if name.startswith(".") and not part.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, part)


async def expand(shell: ShellContext, pattern: str, *, want: Want = "files") -> list[str]:
    """The remote paths `pattern` names, sorted; ShellError if a glob matches nothing.

    A pattern without glob characters is returned as it is (the server judges it).
    The paths keep the pattern's form: relative patterns give relative paths.
    """
    if not remote_paths.has_glob(pattern):
        return [pattern]
    client = shell.require_client()
    absolute = pattern.startswith("/")
    parts = [part for part in pattern.split("/") if part]
    found = ["/" if absolute else ""]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if not remote_paths.has_glob(part):
            found = [prefix + part + ("" if last else "/") for prefix in found]
            continue
        matched: list[str] = []
        for prefix in found:
            entries = await client.list(prefix)
            shell.cache.store(shell.remote(prefix or "."), entries)
            for entry in sorted(entries, key=lambda entry: entry.name):
                if not _matches(entry.name, part):
                    continue
                if not last:
                    if entry.is_dir or getattr(entry, "is_link", False):
                        matched.append(prefix + entry.name + "/")
                elif want == "any" or (entry.is_dir == (want == "folders")):
                    matched.append(prefix + entry.name)
        found = matched
        if not found:
            break
    if not found:
        kind = {"files": "file", "folders": "folder", "any": "name"}[want]
        raise ShellError(f"no remote {kind} matches {pattern!r}")
    return found


async def expand_all(shell: ShellContext, patterns: tuple[str, ...], *, want: Want = "files") -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        paths += await expand(shell, pattern, want=want)
    return paths
