"""Listing grammar on strings alone: `ls -l` lines, MLSD facts, MDTM time-vals."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioftp_lite.protocol.listing import (
    ALL_FACTS,
    FileInfo,
    format_facts,
    format_list_line,
    format_mdtm,
    parse_mdtm,
    parse_mlsd_line,
)

DAY = 24 * 3600
# 2024-03-05 14:07:09 UTC, a fixed "now" so that no test depends on the clock.
NOW = calendar.timegm((2024, 3, 5, 14, 7, 9))
ALL_PERMISSIONS = frozenset({"list", "read", "write", "delete", "rename", "mkdir"})


def _fields(line: str) -> list[str]:
    return line.split(None, 8)  # the ninth field is the name, spaces included


def test_recent_file_shows_time_of_day() -> None:
    info = FileInfo("notes.txt", is_dir=False, size=1234, mtime=NOW - 3 * DAY, mode=0o640)
    fields = _fields(format_list_line(info, now=NOW))
    assert fields == ["-rw-r-----", "1", "ftp", "ftp", "1234", "Mar", "2", "14:07", "notes.txt"]


def test_old_file_shows_year() -> None:
    mtime = calendar.timegm((2019, 11, 23, 8, 0, 0))
    fields = _fields(format_list_line(FileInfo("old.tar", False, 7, mtime), now=NOW))
    assert fields[5:] == ["Nov", "23", "2019", "old.tar"]


def test_file_far_in_the_future_shows_year() -> None:
    mtime = calendar.timegm((2031, 1, 2, 0, 0, 0))
    assert _fields(format_list_line(FileInfo("f", False, 0, mtime), now=NOW))[5:8] == ["Jan", "2", "2031"]


def test_directory_line_starts_with_d() -> None:
    info = FileInfo("My Folder", is_dir=True, size=4096, mtime=NOW - 60, mode=0o755, links=3)
    line = format_list_line(info, now=NOW)
    assert line.startswith("drwxr-xr-x   3 ftp")
    assert _fields(line)[8] == "My Folder"


def test_name_with_spaces_and_non_ascii_is_kept_whole() -> None:
    info = FileInfo("  two  spaces é.txt", False, 1, NOW)
    assert format_list_line(info, now=NOW).endswith(" 14:07   two  spaces é.txt")


def test_huge_size_is_not_truncated() -> None:
    size = 5 * 1024**4  # 5 TiB
    assert _fields(format_list_line(FileInfo("big", False, size, NOW), now=NOW))[4] == str(size)


@pytest.mark.parametrize(
    ("month", "name"),
    list(enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)),
)
def test_month_names_are_english(month: int, name: str) -> None:
    mtime = calendar.timegm((2020, month, 15, 12, 0, 0))
    assert _fields(format_list_line(FileInfo("f", False, 0, mtime), now=NOW))[5] == name


def test_day_of_month_is_padded_to_two_columns() -> None:
    line = format_list_line(FileInfo("f", False, 0, calendar.timegm((2024, 3, 1, 9, 5, 0))), now=NOW)
    assert " Mar  1 09:05 f" in line


def test_format_facts_all() -> None:
    info = FileInfo("a.txt", False, 42, calendar.timegm((2024, 1, 2, 3, 4, 5)), unique="803g1f")
    expected = "type=file;size=42;modify=20240102030405;perm=adfrw;unique=803g1f;"
    assert format_facts(info, ALL_PERMISSIONS) == expected


def test_format_facts_of_a_directory() -> None:
    info = FileInfo("d", True, 4096, 0, unique="u1")
    facts = format_facts(info, ALL_PERMISSIONS)
    assert facts.startswith("type=dir;size=4096;modify=19700101000000;")
    assert "perm=cdeflmp;" in facts


def test_format_facts_keeps_the_chosen_facts_in_order() -> None:
    info = FileInfo("a", False, 9, 0, unique="u")
    assert format_facts(info, ALL_PERMISSIONS, ("size", "type")) == "size=9;type=file;"
    assert format_facts(info, ALL_PERMISSIONS, ()) == ""
    assert format_facts(info, ALL_PERMISSIONS, ("size", "charset")) == "size=9;"  # unknown fact left out


def test_format_facts_leaves_out_empty_values() -> None:
    info = FileInfo("a", False, 0, 0, unique="")
    assert format_facts(info, frozenset()) == "type=file;size=0;modify=19700101000000;"


def test_read_only_permissions() -> None:
    info = FileInfo("a", False, 1, 0)
    assert "perm=r;" in format_facts(info, frozenset({"read", "list"}))
    assert "perm=el;" in format_facts(FileInfo("d", True, 0, 0), frozenset({"read", "list"}))


def test_parse_mlsd_line() -> None:
    name, facts = parse_mlsd_line("Type=file;Size=12;modify=20240102030405; my file.txt")
    assert name == "my file.txt"
    assert facts == {"type": "file", "size": "12", "modify": "20240102030405"}


def test_parse_mlsd_line_name_may_start_with_a_space() -> None:
    assert parse_mlsd_line("type=file;  leading")[0] == " leading"


def test_parse_mlsd_line_without_separator_raises() -> None:
    with pytest.raises(ValueError):
        parse_mlsd_line("type=file;size=1;")


_names = st.text(st.characters(blacklist_characters="\r\n\x00/", blacklist_categories=("Cs",)), min_size=1)
_infos = st.builds(
    FileInfo,
    name=_names,
    is_dir=st.booleans(),
    size=st.integers(0, 2**63),
    mtime=st.integers(0, 253402300799).map(float),  # up to 9999-12-31
    unique=st.text("0123456789abcdefg", min_size=1, max_size=20),
)


@given(info=_infos, chosen=st.lists(st.sampled_from(ALL_FACTS), unique=True))
def test_mlsd_line_round_trip(info: FileInfo, chosen: list[str]) -> None:
    line = f"{format_facts(info, ALL_PERMISSIONS, tuple(chosen))} {info.name}"
    name, facts = parse_mlsd_line(line)
    assert name == info.name
    assert list(facts) == chosen
    expected = {"type": "dir" if info.is_dir else "file", "size": str(info.size), "unique": info.unique}
    for fact, value in expected.items():
        if fact in facts:
            assert facts[fact] == value
    if "modify" in facts:
        assert parse_mdtm(facts["modify"]) == info.mtime


def test_format_mdtm() -> None:
    assert format_mdtm(calendar.timegm((2024, 2, 29, 23, 59, 58))) == "20240229235958"
    assert format_mdtm(1.9) == "19700101000001"  # fractions are cut, never rounded up


@given(seconds=st.integers(0, 253402300799))
def test_mdtm_round_trip(seconds: int) -> None:
    assert parse_mdtm(format_mdtm(seconds)) == seconds


def test_parse_mdtm_with_fraction() -> None:
    assert parse_mdtm("19700101000010.250") == pytest.approx(10.25)
    assert parse_mdtm(" 19700101000010\r\n") == 10


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024010203040",
        "202401020304050",
        "2024-01-02 03:04",
        "20241301000000",
        "20240230000000",
        "abcdefghijklmn",
    ],
)
def test_parse_mdtm_refuses_malformed_time_vals(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mdtm(text)
