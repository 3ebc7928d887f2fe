"""The PROXY protocol header grammar (v1 and v2), on bytes alone."""

from __future__ import annotations

import struct

import pytest

from aioftp_lite.protocol.proxy import (
    V1_MAX_LENGTH,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    encode_v1,
    encode_v2,
    parse_header,
    starts_like_header,
)


# --- v1 ----------------------------------------------------------------------------------
def test_v1_tcp4() -> None:
    data = b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 21\r\nUSER x\r\n"
    header = parse_header(data)
    assert header == ProxyHeader(1, data.index(b"USER"), ("203.0.113.7", 51234), ("192.0.2.1", 21))


def test_v1_tcp6() -> None:
    data = b"PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n"
    assert parse_header(data) == ProxyHeader(1, len(data), ("2001:db8::7", 65535), ("2001:db8::1", 0))


@pytest.mark.parametrize("data", [b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"])
def test_v1_unknown_has_no_address(data: bytes) -> None:
    assert parse_header(data + b"rest") == ProxyHeader(1, len(data))


def test_v1_incomplete_asks_for_more_at_every_length() -> None:
    data = encode_v1(("10.1.2.3", 4000), ("10.0.0.1", 21))
    for end in range(len(data)):
        assert parse_header(data[:end]) is None, end
    assert parse_header(data) is not None


@pytest.mark.parametrize(
    "data",
    [
        b"PROXY TCP4 10.1.2.3 10.0.0.1 4000\r\n",  # a field missing
        b"PROXY TCP4 10.1.2.3 10.0.0.1 4000 21 9\r\n",  # one too many
        b"PROXY TCP4 ::1 10.0.0.1 4000 21\r\n",  # IPv6 in TCP4
        b"PROXY TCP6 10.1.2.3 ::1 4000 21\r\n",  # IPv4 in TCP6
        b"PROXY TCP4 10.1.2.300 10.0.0.1 4000 21\r\n",
        b"PROXY TCP4 10.1.2.3 10.0.0.1 65536 21\r\n",
        b"PROXY TCP4 10.1.2.3 10.0.0.1 04000 21\r\n",  # leading zero
        b"PROXY TCP4 10.1.2.3 10.0.0.1 -1 21\r\n",
        b"PROXY TCP4  10.1.2.3 10.0.0.1 4000 21\r\n",  # two spaces
        b"PROXY UDP4 10.1.2.3 10.0.0.1 4000 21\r\n",
        b"PROXY TCP4 10.1.2.3 10.0.0.1 4000 21\n",  # LF without CR
        b"PROXY TCP4 \xff\r\n",
        b"PROXY " + b"9" * V1_MAX_LENGTH,  # no CRLF within the bound
        b"proxy TCP4 10.1.2.3 10.0.0.1 4000 21\r\n",
        b"USER anonymous\r\n",
        b"\x16\x03\x01",  # a TLS ClientHello
    ],
)
def test_v1_malformed_is_refused(data: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse_header(data)


def test_v1_not_a_header_is_refused_from_its_first_wrong_byte() -> None:
    with pytest.raises(ProxyHeaderError):
        parse_header(b"PRX")


# --- v2 ----------------------------------------------------------------------------------
def test_v2_inet_with_payload_after_it() -> None:
    data = encode_v2(("203.0.113.7", 51234), ("192.0.2.1", 21))
    header = parse_header(data + b"\x16\x03\x01 TLS or a command")
    assert header == ProxyHeader(2, 28, ("203.0.113.7", 51234), ("192.0.2.1", 21))
    assert len(data) == 28


def test_v2_inet6() -> None:
    data = encode_v2(("2001:db8::7", 1), ("2001:db8::1", 2121))
    assert parse_header(data) == ProxyHeader(2, 16 + 36, ("2001:db8::7", 1), ("2001:db8::1", 2121))


def test_v2_tlvs_are_skipped() -> None:
    tlvs = bytes([0x04]) + struct.pack("!H", 3) + b"abc" + bytes([0x01]) + struct.pack("!H", 2) + b"h2"
    data = encode_v2(("10.1.2.3", 4000), ("10.0.0.1", 21), tlvs)
    header = parse_header(data + b"after")
    assert header is not None and header.length == len(data) and header.source == ("10.1.2.3", 4000)


def test_v2_largest_header() -> None:
    tlvs = bytes([0xEE]) + struct.pack("!H", 0xFFFF - 12 - 3) + b"x" * (0xFFFF - 12 - 3)
    data = encode_v2(("10.1.2.3", 4000), ("10.0.0.1", 21), tlvs)
    assert len(data) == 16 + 0xFFFF
    assert parse_header(data[:-1]) is None
    header = parse_header(data)
    assert header is not None and header.length == len(data)


def test_v2_local_command_carries_no_address() -> None:
    data = encode_v2(None)
    assert parse_header(data) == ProxyHeader(2, 16)


def test_v2_unspec_and_unix_families_carry_no_address() -> None:
    unspec = V2_SIGNATURE + bytes([0x21, 0x00]) + struct.pack("!H", 0)
    assert parse_header(unspec) == ProxyHeader(2, 16)
    unix = V2_SIGNATURE + bytes([0x21, 0x31]) + struct.pack("!H", 216) + b"\0" * 216
    assert parse_header(unix) == ProxyHeader(2, 16 + 216)


def test_v2_incomplete_asks_for_more_at_every_length() -> None:
    data = encode_v2(("10.1.2.3", 4000), ("10.0.0.1", 21))
    for end in range(len(data)):
        assert parse_header(data[:end]) is None, end


@pytest.mark.parametrize(
    "data",
    [
        V2_SIGNATURE + bytes([0x11, 0x11]) + struct.pack("!H", 12) + b"\0" * 12,  # version 1 in a v2 header
        V2_SIGNATURE + bytes([0x22, 0x11]) + struct.pack("!H", 12) + b"\0" * 12,  # command 2
        V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", 8) + b"\0" * 8,  # address block too short
        V2_SIGNATURE + bytes([0x21, 0x21]) + struct.pack("!H", 12) + b"\0" * 12,  # INET6 in 12 bytes
        V2_SIGNATURE + bytes([0x21, 0x41]) + struct.pack("!H", 12) + b"\0" * 12,  # family 4
        V2_SIGNATURE + bytes([0x21, 0x13]) + struct.pack("!H", 12) + b"\0" * 12,  # transport 3
        b"\r\n\r\n\x00\r\nQUIX\n" + b"\0" * 16,
    ],
)
def test_v2_malformed_is_refused(data: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse_header(data)


# --- telling a header from a command ----------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"P", True),
        (b"PROX", True),
        (b"PROXY TCP4", True),
        (b"\r\n\r\n", True),
        (V2_SIGNATURE, True),
        (b"PASV\r\n", False),
        (b"USER x\r\n", False),
        (b"\r\nUSER", False),
        (b"", False),
    ],
)
def test_starts_like_header(data: bytes, expected: bool) -> None:
    assert starts_like_header(data) is expected
