"""TYPE A line-ending conversion, chunk by chunk: any split gives the one-piece result."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioftp_lite.protocol.text import FromNetworkAscii, ToNetworkAscii

# Bytes rich in CR and LF, so that the interesting boundaries come up often.
_line_noise = st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b"xyz", b"\xff", b""]), max_size=40).map(
    b"".join
)
_any_bytes = st.one_of(_line_noise, st.binary(max_size=200))


def _pieces(data: bytes, cuts: set[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def _to_network(pieces: list[bytes]) -> bytes:
    converter = ToNetworkAscii()
    return b"".join(converter.convert(piece) for piece in pieces)


def _from_network(pieces: list[bytes]) -> bytes:
    converter = FromNetworkAscii()
    return b"".join(converter.convert(piece) for piece in pieces) + converter.flush()


@pytest.mark.parametrize(
    ("disk", "wire"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb", b"a\r\nb"),
        (b"\n\n", b"\r\n\r\n"),
        (b"lone\rcr", b"lone\rcr"),
        (b"", b""),
        (b"\r\r\n", b"\r\r\n"),
    ],
)
def test_to_network_in_one_piece(disk: bytes, wire: bytes) -> None:
    assert ToNetworkAscii().convert(disk) == wire


@pytest.mark.parametrize(
    ("wire", "disk"),
    [
        (b"a\r\nb\r\n", b"a\nb\n"),
        (b"lone\rcr", b"lone\rcr"),
        (b"bare\nlf", b"bare\nlf"),
        (b"\r\r\n", b"\r\n"),
        (b"end\r", b"end\r"),
    ],
)
def test_from_network_in_one_piece(wire: bytes, disk: bytes) -> None:
    assert _from_network([wire]) == disk


def test_crlf_split_across_chunks_is_not_doubled_on_the_way_out() -> None:
    converter = ToNetworkAscii()
    assert converter.convert(b"line\r") + converter.convert(b"\nnext\n") == b"line\r\nnext\r\n"


def test_empty_chunk_keeps_the_pending_state() -> None:
    outgoing = ToNetworkAscii()
    assert outgoing.convert(b"a\r") + outgoing.convert(b"") + outgoing.convert(b"\n") == b"a\r\n"
    incoming = FromNetworkAscii()
    assert incoming.convert(b"a\r") + incoming.convert(b"") + incoming.convert(b"\n") == b"a\n"


def test_crlf_split_across_chunks_becomes_one_lf_on_the_way_in() -> None:
    converter = FromNetworkAscii()
    assert converter.convert(b"line\r") == b"line"  # the CR waits for its partner
    assert converter.convert(b"\nnext") == b"\nnext"
    assert converter.flush() == b""


def test_final_lone_cr_comes_out_at_flush() -> None:
    converter = FromNetworkAscii()
    assert converter.convert(b"x\r") == b"x"
    assert converter.flush() == b"\r"
    assert converter.flush() == b""


@given(data=_any_bytes, cuts=st.sets(st.integers(0, 200), max_size=10))
def test_to_network_any_split_equals_one_piece(data: bytes, cuts: set[int]) -> None:
    cuts = {cut for cut in cuts if cut <= len(data)}
    assert _to_network(_pieces(data, cuts)) == ToNetworkAscii().convert(data)


@given(data=_any_bytes, cuts=st.sets(st.integers(0, 200), max_size=10))
def test_from_network_any_split_equals_one_piece(data: bytes, cuts: set[int]) -> None:
    cuts = {cut for cut in cuts if cut <= len(data)}
    assert _from_network(_pieces(data, cuts)) == _from_network([data])


@given(data=_any_bytes)
def test_byte_by_byte_equals_one_piece(data: bytes) -> None:
    single_bytes = [data[index : index + 1] for index in range(len(data))]
    assert _to_network(single_bytes) == ToNetworkAscii().convert(data)
    assert _from_network(single_bytes) == _from_network([data])


@given(data=_any_bytes)
def test_wire_form_has_no_bare_lf(data: bytes) -> None:
    wire = ToNetworkAscii().convert(data)
    assert wire.count(b"\n") == wire.count(b"\r\n")


@given(
    text=st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"")),  # LF-only text, as on disk
    out_cuts=st.sets(st.integers(0, 300), max_size=8),
    in_cuts=st.sets(st.integers(0, 600), max_size=8),
)
def test_lf_only_text_round_trips(text: bytes, out_cuts: set[int], in_cuts: set[int]) -> None:
    wire = _to_network(_pieces(text, {cut for cut in out_cuts if cut <= len(text)}))
    assert wire == text.replace(b"\n", b"\r\n")
    assert _from_network(_pieces(wire, {cut for cut in in_cuts if cut <= len(wire)})) == text
