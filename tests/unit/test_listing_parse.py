"""Pure tests: the LIST parser (Unix `ls -l`, DOS/IIS), the client's entry building and reply-text parsing."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioftp_lite.ftpclient.client import parse_features, parse_quoted_path
from aioftp_lite.ftpclient.listing import decode_lines, entries_from_list, entries_from_mlsd
from aioftp_lite.protocol.listing import FileInfo, format_list_line
from aioftp_lite.protocol.listing_parse import ListLineError, parse_list, parse_list_line
from aioftp_lite.protocol.replies import Reply

# A fixed "now" (2024-06-15 12:00 UTC) so year inference is checked, not assumed.
NOW = calendar.timegm((2024, 6, 15, 12, 0, 0, 0, 0, 0))


def utc(*parts: int) -> float:
    return float(calendar.timegm((*parts, *(0,) * (6 - len(parts)), 0, 0, 0)))


@pytest.mark.parametrize(
    ("line", "name", "kind", "size", "mtime"),
    [
        ("drwxr-xr-x   2 ftp  ftp      4096 Jan  5 10:30 docs", "docs", "dir", 4096, utc(2024, 1, 5, 10, 30)),
        ("-rw-r--r--   1 ftp  ftp       123 Mar 15  2019 notes with  spaces.txt",
         "notes with  spaces.txt", "file", 123, utc(2019, 3, 15)),
        # A time, not a year, later in the year than "now": last year's (ls shows recent dates so).
        ("-rw-r--r--   1 ftp  ftp         9 Dec 31 23:59 old.txt", "old.txt", "file", 9, utc(2023, 12, 31, 23, 59)),
        ("-rw-r--r--   1 1000 1000        5 Jun 14 08:00 2024 report", "2024 report", "file", 5,
         utc(2024, 6, 14, 8, 0)),
        ("-rw-r--r--   1 owner            7 Feb  1  2020 no group column", "no group column", "file", 7,
         utc(2020, 2, 1)),
        ("-rw-r--r--+  1 ftp  ftp         3 Feb  1  2020 acl", "acl", "file", 3, utc(2020, 2, 1)),
        ("-rw-r--r-- 1 ftp ftp 11 2023-04-05 06:07  leading space", " leading space", "file", 11,
         utc(2023, 4, 5, 6, 7)),
        ("crw-rw-rw-   1 root root   1,   3 Jan  1  2020 null", "null", "other", None, utc(2020, 1, 1)),
        ("-rw-r--r--   1 ftp ftp 1 Jan  1 12:00 été ü.txt", "été ü.txt", "file", 1, utc(2024, 1, 1, 12)),
    ],
)  # fmt: skip
def test_unix_lines(line: str, name: str, kind: str, size: int | None, mtime: float) -> None:
    entry = parse_list_line(line, now=NOW)
    assert entry is not None
    assert (entry.name, entry.kind, entry.size, entry.mtime) == (name, kind, size, mtime)


def test_unix_symlink_splits_target_and_keeps_owner() -> None:
    entry = parse_list_line("lrwxrwxrwx   1 alice staff    7 Jan  5  2023 latest build -> v2/a -> b", now=NOW)
    assert entry is not None
    assert (entry.name, entry.kind, entry.link_target) == ("latest build", "link", "v2/a -> b")
    assert (entry.mode, entry.owner, entry.group) == ("rwxrwxrwx", "alice", "staff")


@pytest.mark.parametrize(
    ("line", "name", "is_dir", "size", "mtime"),
    [
        ("01-02-24  10:30AM       <DIR>          My Documents", "My Documents", True, None, utc(2024, 1, 2, 10, 30)),
        ("12-31-99  12:05PM              1,234,567 big file.iso", "big file.iso", False, 1234567,
         utc(1999, 12, 31, 12, 5)),
        ("07-04-2021  12:00AM                    0 midnight", "midnight", False, 0, utc(2021, 7, 4, 0, 0)),
        ("07-04-21  23:15                       42 day.log", "day.log", False, 42, utc(2021, 7, 4, 23, 15)),
    ],
)  # fmt: skip
def test_dos_lines(line: str, name: str, is_dir: bool, size: int | None, mtime: float) -> None:
    entry = parse_list_line(line, now=NOW)
    assert entry is not None
    assert (entry.name, entry.kind == "dir", entry.size, entry.mtime) == (name, is_dir, size, mtime)


def test_noise_lines_and_unknown_lines() -> None:
    assert parse_list_line("total 48", now=NOW) is None
    assert parse_list_line("   ", now=NOW) is None
    with pytest.raises(ListLineError):
        parse_list_line("just-a-name.txt", now=NOW)
    # In a whole reply an unknown line is kept as a bare name (servers that answer LIST with names).
    entries = parse_list(["total 2", "just-a-name.txt", "drwxr-xr-x 2 a b 0 Jan  1  2020 d"], now=NOW)
    assert [(e.name, e.kind) for e in entries] == [("just-a-name.txt", "file"), ("d", "dir")]


def test_impossible_date_keeps_the_entry() -> None:
    entry = parse_list_line("-rw-r--r-- 1 a b 5 Feb 31  2020 odd", now=NOW)
    assert entry is not None and entry.name == "odd" and entry.mtime is None


_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda name: name not in (".", ".."))


@settings(max_examples=200, deadline=None)
@given(
    name=_names,
    is_dir=st.booleans(),
    size=st.integers(min_value=0, max_value=10**13),
    age=st.integers(min_value=-3600, max_value=5 * 365 * 24 * 3600),
)
def test_round_trip_with_our_servers_list_format(name: str, is_dir: bool, size: int, age: int) -> None:
    """Whatever our server formats, the client parses back: name, kind, size, time to the minute/day."""
    mtime = NOW - age
    line = format_list_line(FileInfo(name=name, is_dir=is_dir, size=size, mtime=mtime), now=NOW)
    entry = parse_list_line(line, now=NOW)
    assert entry is not None
    assert (entry.name, entry.kind, entry.size) == (name, "dir" if is_dir else "file", size)
    assert entry.mtime is not None
    precision = 60 if abs(age) < 180 * 24 * 3600 else 24 * 3600
    assert 0 <= mtime - entry.mtime < precision


def test_entries_from_mlsd_skip_cdir_pdir_and_read_facts() -> None:
    lines = decode_lines(
        b"type=cdir;modify=20240101000000; .\r\n"
        b"type=pdir;modify=20240101000000; ..\r\n"
        b"type=file;size=12;modify=20240105103000.5;perm=r; a b.txt\r\n"
        b"Type=dir;Modify=20231231235959; sub\n"
        b"type=OS.unix=slink:/x;size=1; link\r\n"
        b"type=file;size=3; caf\xc3\xa9 \xff.bin\r\n"
    )
    entries = entries_from_mlsd(lines)
    assert [(e.name, e.is_dir, e.size) for e in entries] == [
        ("a b.txt", False, 12), ("sub", True, None), ("link", False, 1), ("café \udcff.bin", False, 3)
    ]  # fmt: skip
    assert entries[0].mtime == utc(2024, 1, 5, 10, 30) + 0.5
    assert entries[1].mtime == utc(2023, 12, 31, 23, 59, 59)
    assert entries[2].is_link and not entries[0].is_link
    assert entries[0].facts["perm"] == "r"


def test_entries_from_list_make_facts_and_drop_dot_entries() -> None:
    lines = [
        "drwxr-xr-x 2 ftp ftp 0 Jan  1  2020 .",
        "drwxr-xr-x 2 ftp ftp 0 Jan  1  2020 ..",
        "lrwxrwxrwx 1 ftp ftp 4 Jan  1  2020 cur -> docs",
        "drwxr-xr-x 2 ftp ftp 0 Jan  1  2020 docs",
    ]
    entries = entries_from_list(lines, now=NOW)
    assert [e.name for e in entries] == ["cur", "docs"]
    link, folder = entries
    assert link.is_link and not link.is_dir and link.facts["link"] == "docs"
    assert folder.is_dir and folder.facts == {
        "type": "dir", "unix.mode": "rwxr-xr-x", "unix.owner": "ftp", "unix.group": "ftp", "size": "0"
    }  # fmt: skip


def test_leap_day_with_a_time_seen_the_year_after() -> None:
    march_2025 = utc(2025, 3, 1, 12)
    entry = parse_list_line("-rw-r--r-- 1 a b 5 Feb 29 10:00 leap", now=march_2025)
    assert entry is not None and entry.mtime == utc(2024, 2, 29, 10)


def test_parse_quoted_path() -> None:
    assert parse_quoted_path('257 "/" is cwd') == "/"
    assert parse_quoted_path('"/x ""y"" z" created') == '/x "y" z'
    assert parse_quoted_path("no quotes") is None
    assert parse_quoted_path('"unterminated') is None


def test_parse_features() -> None:
    reply = Reply(211, "Features:\nMLST type*;size*;\nUTF8\nrest STREAM\nEnd")
    assert parse_features(reply) == {"MLST": "type*;size*;", "UTF8": "", "REST": "STREAM"}
