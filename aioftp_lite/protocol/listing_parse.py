"""Parsing LIST output back into entries: Unix `ls -l` lines and DOS/IIS lines.

Pure grammar for clients. LIST has no standard format (RFC 959 leaves it to the
server), so this recognises the two shapes servers actually send:

    drwxr-xr-x   2 ftp  ftp      4096 Jan  5 10:30 docs
    -rw-r--r--   1 ftp  ftp       123 Jan  5  2023 notes with spaces.txt
    lrwxrwxrwx   1 ftp  ftp         7 Jan  5 10:30 latest -> v2.tar
    01-02-24  10:30AM       <DIR>          My Documents
    01-02-24  10:30AM                 1234 report.txt

Times carry no zone in either format; they are read as UTC (our server and most
others list in UTC). Unix lines with a time instead of a year are in the last
six months or so, as ls(1) prints them: the year is the one that puts the date
not later than "now" (plus a day of slack for clock skew).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}  # fmt: skip
_CLOCK_SKEW = 24 * 3600

_UNIX = re.compile(
    r"^(?P<type>[-dlbcpsD])(?P<mode>[-rwxsStTlL?]{9})[+.@]?"  # ACL/xattr markers after the mode
    r"\s+(?:\d+\s+)?"  # link count (some servers leave it out)
    r"(?P<owner_group>.*?)\s*(?<!\S)(?P<size>\d+|\d+,\s*\d+)\s+"  # device files show "major, minor"
    r"(?:(?P<month>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+(?P<when>\d{1,2}:\d{2}(?::\d{2})?|\d{4})"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})\s+(?P<iso_time>\d{2}:\d{2}(?::\d{2})?))"  # ls --time-style=long-iso
    r" (?P<name>.+)$"
)
_DOS = re.compile(
    r"^(?P<month>\d{2})-(?P<day>\d{2})-(?P<year>\d{2}|\d{4})\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>[AaPp][Mm])?\s+"
    r"(?:(?P<dir><DIR>)|(?P<size>\d[\d,]*))\s+(?P<name>.+)$"
)
_KINDS = {"-": "file", "d": "dir", "l": "link"}


@dataclass(frozen=True, slots=True)
class ListedEntry:
    """One entry of a LIST reply, as far as the line tells."""

    name: str
    kind: str  # "file", "dir", "link" or "other" (devices, pipes, sockets)
    size: int | None
    mtime: float | None  # seconds since the epoch, read as UTC
    link_target: str | None = None
    mode: str = ""  # Unix permission letters, e.g. "rwxr-xr-x"
    owner: str = ""
    group: str = ""


class ListLineError(ValueError):
    """A line in neither the Unix nor the DOS format."""


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """Seconds since the epoch; ValueError for an impossible date (datetime checks, timegm would not)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def _clock(text: str) -> tuple[int, int, int]:
    """`HH:MM` or `HH:MM:SS` -> (hour, minute, second)."""
    hour, minute, *seconds = (int(part) for part in text.split(":"))
    return hour, minute, seconds[0] if seconds else 0


def _unix_time(match: re.Match[str], now: float) -> float | None:
    if match["iso"]:
        year, month_number, day_number = (int(part) for part in match["iso"].split("-"))
        return _utc(year, month_number, day_number, *_clock(match["iso_time"]))
    month = _MONTHS.get(match["month"].lower())
    if month is None:
        return None
    day, when = int(match["day"]), match["when"]
    if ":" not in when:
        return _utc(int(when), month, day)
    this_year = time.gmtime(now).tm_year
    try:
        stamp = _utc(this_year, month, day, *_clock(when))
        if stamp <= now + _CLOCK_SKEW:
            return stamp
    except ValueError:  # Feb 29 outside a leap year: it must be an earlier year's
        pass
    # "Dec 31 23:59" seen in January is last year's.
    return _utc(this_year - 1, month, day, *_clock(when))


def _parse_unix(match: re.Match[str], now: float) -> ListedEntry:
    kind = _KINDS.get(match["type"], "other")
    name, target = match["name"], None
    if kind == "link" and " -> " in name:
        name, target = name.split(" -> ", 1)
    owner, _, group = match["owner_group"].partition(" ")
    size_text = match["size"]
    try:
        mtime = _unix_time(match, now)
    except ValueError:  # e.g. "Feb 31": keep the entry, drop the date
        mtime = None
    return ListedEntry(
        name=name,
        kind=kind,
        size=None if "," in size_text else int(size_text),
        mtime=mtime,
        link_target=target,
        mode=match["mode"],
        owner=owner,
        group=group.strip(),
    )


def _parse_dos(match: re.Match[str]) -> ListedEntry:
    year = int(match["year"])
    if year < 100:  # POSIX strptime's rule for two-digit years
        year += 2000 if year < 69 else 1900
    hour, ampm = int(match["hour"]), (match["ampm"] or "").upper()
    if ampm:
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    try:
        mtime: float | None = _utc(year, int(match["month"]), int(match["day"]), hour, int(match["minute"]))
    except ValueError:
        mtime = None
    is_dir = match["dir"] is not None
    return ListedEntry(
        name=match["name"],
        kind="dir" if is_dir else "file",
        size=None if is_dir else int(match["size"].replace(",", "")),
        mtime=mtime,
    )


def parse_list_line(line: str, now: float | None = None) -> ListedEntry | None:
    """One LIST line -> entry; None for lines that describe no entry ("total 12", blank).

    Raises ListLineError for a line in no known format.
    """
    line = line.rstrip("\r\n")
    if not line.strip() or re.fullmatch(r"total\s+\d+", line.strip(), re.IGNORECASE):
        return None
    if match := _UNIX.match(line):
        return _parse_unix(match, time.time() if now is None else now)
    if match := _DOS.match(line):
        return _parse_dos(match)
    raise ListLineError(f"unrecognised LIST line: {line[:80]!r}")


def parse_list(lines: Iterable[str], now: float | None = None) -> list[ListedEntry]:
    """A whole LIST reply. Lines in no known format are kept as bare names (as
    lftp does), since some servers answer LIST with names only."""
    now = time.time() if now is None else now
    entries: list[ListedEntry] = []
    for line in lines:
        try:
            entry = parse_list_line(line, now)
        except ListLineError:
            entry = ListedEntry(name=line.rstrip("\r\n"), kind="file", size=None, mtime=None)
        if entry is not None:
            entries.append(entry)
    return entries
