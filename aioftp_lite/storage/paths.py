"""Virtual paths: what the FTP user sees, always absolute POSIX paths under `/`.

The rule for `..` is the jail's first line of defence: it can never climb above `/`.
The local backend adds the second: the kernel resolves every path beneath the root (jail.py).
"""

from __future__ import annotations

from pathlib import PurePosixPath

ROOT = PurePosixPath("/")


def resolve_virtual(cwd: PurePosixPath, argument: str) -> PurePosixPath:
    """Join `argument` to `cwd` (absolute arguments replace it) and normalise `.`/`..`.

    `..` at the root stays at the root, as in a chroot.
    """
    parts: list[str] = []
    base = ROOT if argument.startswith("/") else cwd
    for part in [*base.parts[1:], *argument.split("/")]:
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return ROOT.joinpath(*parts)


def quote_path(path: PurePosixPath | str) -> str:
    """Path inside a 257 reply: double quotes doubled (RFC 959 appendix II)."""
    return '"' + str(path).replace('"', '""') + '"'


def is_hidden(name: str) -> bool:
    return name.startswith(".")
