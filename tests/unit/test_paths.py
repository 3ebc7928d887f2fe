"""Virtual path rules: joining to the working folder, `.` and `..`, and 257 quoting."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioftp_lite.storage.paths import ROOT, is_hidden, quote_path, resolve_virtual

P = PurePosixPath


@pytest.mark.parametrize(
    ("cwd", "argument", "expected"),
    [
        ("/", "file.txt", "/file.txt"),
        ("/docs", "file.txt", "/docs/file.txt"),
        ("/docs", "", "/docs"),
        ("/docs", ".", "/docs"),
        ("/docs", "./a/./b", "/docs/a/b"),
        ("/docs/2024", "..", "/docs"),
        ("/docs/2024", "../..", "/"),
        ("/docs", "a/../b", "/docs/b"),
        ("/docs", "/other", "/other"),  # absolute arguments replace the working folder
        ("/docs", "/", "/"),
        ("/docs", "//twice//slashes///", "/twice/slashes"),
        ("/docs", "sub/", "/docs/sub"),  # trailing slash
        ("/docs", "sub//", "/docs/sub"),
        ("/docs", "my file .txt", "/docs/my file .txt"),  # spaces are part of the name
        ("/docs", "...", "/docs/..."),  # three dots are a name, not a step up
        ("/docs", "..hidden", "/docs/..hidden"),
    ],
)
def test_resolve_virtual(cwd: str, argument: str, expected: str) -> None:
    assert resolve_virtual(P(cwd), argument) == P(expected)


@pytest.mark.parametrize(
    ("cwd", "argument"),
    [
        ("/", ".."),
        ("/", "../../.."),
        ("/a", "../../../etc/passwd"),
        ("/", "/../etc"),
        ("/a/b", "../../../../.."),
        ("/", "a/../../.."),
        ("/", "../a/../../b"),
    ],
)
def test_dotdot_never_climbs_above_root(cwd: str, argument: str) -> None:
    resolved = resolve_virtual(P(cwd), argument)
    assert resolved.is_absolute()
    assert ".." not in resolved.parts


def test_dotdot_at_root_stays_at_root_like_a_chroot() -> None:
    assert resolve_virtual(ROOT, "../../etc/passwd") == P("/etc/passwd")
    assert resolve_virtual(P("/a"), "../../..") == ROOT


_segments = st.lists(
    st.one_of(st.sampled_from(["..", ".", "", "a", "b c", "é"]), st.text("abc.", max_size=4)), max_size=12
)


@given(cwd_parts=st.lists(st.sampled_from(["x", "y z", "ü"]), max_size=4), segments=_segments,
       absolute=st.booleans())  # fmt: skip
def test_result_is_always_a_clean_absolute_path(
    cwd_parts: list[str], segments: list[str], absolute: bool
) -> None:
    cwd = ROOT.joinpath(*cwd_parts)
    argument = ("/" if absolute else "") + "/".join(segments)
    resolved = resolve_virtual(cwd, argument)
    assert resolved.is_absolute()
    assert not {"..", ".", ""} & set(resolved.parts[1:])
    # Resolving again changes nothing, from anywhere.
    assert resolve_virtual(P("/somewhere/else"), str(resolved)) == resolved
    # The result never has more levels than the input could have built.
    assert len(resolved.parts) - 1 <= (0 if absolute else len(cwd_parts)) + len(segments)


@pytest.mark.parametrize(
    ("path", "quoted"),
    [
        ("/", '"/"'),
        ("/docs", '"/docs"'),
        ('/say "hi"', '"/say ""hi"""'),
        ('/"', '"/"""'),
        ("/a b", '"/a b"'),
    ],
)
def test_quote_path_doubles_quotes(path: str, quoted: str) -> None:
    assert quote_path(P(path)) == quoted
    assert quote_path(path) == quoted


@given(name=st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1))
def test_quote_path_can_be_read_back(name: str) -> None:
    quoted = quote_path("/" + name)
    assert quoted.startswith('"') and quoted.endswith('"')
    inner = quoted[1:-1]
    # Inside, every quote is part of a doubled pair, so a reader finds the real end.
    assert inner.replace('""', "").count('"') == 0
    assert inner.replace('""', '"') == "/" + name


def test_is_hidden() -> None:
    assert is_hidden(".profile")
    assert is_hidden("..hidden")
    assert not is_hidden("visible.txt")
    assert not is_hidden("a.b")
