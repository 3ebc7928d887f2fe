"""Directory listings: `ls -l` lines for LIST, facts for MLSD/MLST (RFC 3659 7).

Pure formatting over `FileInfo` values; the storage layer produces them.
"""

from __future__ import annotations

import stat
import time
from dataclasses import dataclass

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SIX_MONTHS = 180 * 24 * 3600


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What a listing shows of one entry."""

    name: str
    is_dir: bool
    size: int
    mtime: float  # seconds since the epoch, UTC
    mode: int = 0o644  # permission bits only
    unique: str = ""  # stable identity (device and inode), for MLSD `unique`
    links: int = 1


def format_list_line(info: FileInfo, now: float | None = None) -> str:
    """One line in the Unix `ls -l` form that FTP clients parse.

    Dates within six months show the time, older ones the year, like ls(1);
    month names are English whatever the locale, since clients parse them.
    """
    now = time.time() if now is None else now
    kind = "d" if info.is_dir else "-"
    mode = stat.filemode(info.mode & 0o777 | (stat.S_IFDIR if info.is_dir else stat.S_IFREG))[1:]
    when = time.gmtime(info.mtime)
    month = _MONTHS[when.tm_mon - 1]
    if abs(now - info.mtime) < _SIX_MONTHS:
        date = f"{month} {when.tm_mday:2d} {when.tm_hour:02d}:{when.tm_min:02d}"
    else:
        date = f"{month} {when.tm_mday:2d}  {when.tm_year}"
    return f"{kind}{mode} {info.links:3d} ftp      ftp      {info.size:>12d} {date} {info.name}"


def format_mdtm(mtime: float) -> str:
    """RFC 3659 time-val in UTC: YYYYMMDDHHMMSS."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime))


def parse_mdtm(text: str) -> float:
    """YYYYMMDDHHMMSS[.sss] (UTC) -> seconds since the epoch."""
    import calendar

    whole, _, fraction = text.strip().partition(".")
    if len(whole) != 14 or not whole.isdigit():
        raise ValueError(f"not a time-val: {text!r}")
    parsed = time.strptime(whole, "%Y%m%d%H%M%S")
    return calendar.timegm(parsed) + (float("0." + fraction) if fraction.isdigit() else 0.0)


# MLSD `perm` letters (RFC 3659 7.5.5) granted by each permission name.
_FILE_PERM_LETTERS = {"read": "r", "write": "aw", "delete": "d", "rename": "f"}
_DIR_PERM_LETTERS = {"list": "el", "write": "c", "mkdir": "m", "delete": "dp", "rename": "f"}


def perm_fact(is_dir: bool, permissions: frozenset[str]) -> str:
    table = _DIR_PERM_LETTERS if is_dir else _FILE_PERM_LETTERS
    return "".join(sorted("".join(letters for name, letters in table.items() if name in permissions)))


ALL_FACTS = ("type", "size", "modify", "perm", "unique")


def format_facts(info: FileInfo, permissions: frozenset[str], chosen: tuple[str, ...] = ALL_FACTS) -> str:
    """`type=file;size=12;modify=...;perm=...;unique=...;` (without the name).

    `chosen` is the fact list a client picked with OPTS MLST.
    """
    values = {
        "type": "dir" if info.is_dir else "file",
        "size": str(info.size),
        "modify": format_mdtm(info.mtime),
        "perm": perm_fact(info.is_dir, permissions),
        "unique": info.unique,
    }
    return "".join(f"{name}={values[name]};" for name in chosen if values.get(name))


def parse_mlsd_line(line: str) -> tuple[str, dict[str, str]]:
    """`fact=value;...; name` -> (name, {fact: value}); fact names lower-cased."""
    facts_text, separator, name = line.partition(" ")
    if not separator:
        raise ValueError(f"not an MLSD line: {line!r}")
    facts: dict[str, str] = {}
    for fact in facts_text.split(";"):
        key, equals, value = fact.partition("=")
        if equals:
            facts[key.lower()] = value
    return name, facts
