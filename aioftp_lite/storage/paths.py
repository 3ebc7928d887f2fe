"""Virtual paths: what the FTP user sees, always absolute POSIX paths under `/`.

The rule for `..` is the jail's first line of defence: it can never climb above `/`.
The local backend adds the second: the kernel resolves every path beneath the root (jail.py).
"""

from __future__ import annotations

from pathlib import PurePosixPath

ROOT = PurePosixPath("/")
NAME_MAX = 255  # bytes in one name, on every common local file system


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


def unique_name(path: PurePosixPath, token: str) -> PurePosixPath:
    """`path` with `token` before its extension (`report.pdf` -> `report.TOKEN.pdf`); the part
    before the extension is cut short if needed, so that the name fits in NAME_MAX bytes."""
    name = path.name
    suffix = path.suffix if len(path.suffix.encode("utf-8", "surrogateescape")) < NAME_MAX // 2 else ""
    stem = name[: len(name) - len(suffix)]
    tail = f".{token}{suffix}".encode("utf-8", "surrogateescape")
    room = NAME_MAX - len(tail)
    stem_bytes = stem.encode("utf-8", "surrogateescape")
    if len(stem_bytes) > room:
        while room and stem_bytes[room] & 0xC0 == 0x80:  # not through a UTF-8 character
            room -= 1
        stem = stem_bytes[:room].decode("utf-8", "surrogateescape")
    return path.with_name(stem + tail.decode("utf-8", "surrogateescape"))
