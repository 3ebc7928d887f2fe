"""PORT/PASV (RFC 959) and EPRT/EPSV (RFC 2428) address grammar on strings alone."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioftp_lite.protocol.addresses import (
    AddressError,
    format_eprt_argument,
    format_epsv_reply_text,
    format_pasv_reply_text,
    format_port_argument,
    normalize_host,
    parse_eprt_argument,
    parse_epsv_reply_text,
    parse_pasv_reply_text,
    parse_port_argument,
)

_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(str)
_port = st.integers(1, 65535)


def test_parse_port_argument() -> None:
    assert parse_port_argument("127,0,0,1,4,1") == ("127.0.0.1", 1025)
    assert parse_port_argument(" 10,1,2,3,255,255 ") == ("10.1.2.3", 65535)


def test_format_port_and_pasv_reply() -> None:
    assert format_port_argument("192.168.0.7", 50000) == "192,168,0,7,195,80"
    assert format_pasv_reply_text("127.0.0.1", 1025) == "Entering Passive Mode (127,0,0,1,4,1)."


@pytest.mark.parametrize(
    "text",
    [
        "Entering Passive Mode (127,0,0,1,4,1).",
        "Entering Passive Mode 127,0,0,1,4,1",
        "=127,0,0,1,4,1",
        "ok (127,0,0,1,4,1)",
    ],
)
def test_parse_pasv_reply_tolerates_server_punctuation(text: str) -> None:
    assert parse_pasv_reply_text(text) == ("127.0.0.1", 1025)


@given(host=_ipv4, port=_port)
def test_port_and_pasv_round_trip(host: str, port: int) -> None:
    assert parse_port_argument(format_port_argument(host, port)) == (host, port)
    assert parse_pasv_reply_text(format_pasv_reply_text(host, port)) == (host, port)


@pytest.mark.parametrize(
    "argument",
    [
        "256,0,0,1,4,1",
        "127,0,0,1,256,1",
        "127,0,0,1,4,256",
        "127,0,0,1,0,0",  # > 255, port 0
        "127,0,0,1,4",
        "127,0,0,1,4,1,7",
        "",
        "127.0.0.1,4,1",
        "a,b,c,d,e,f",
        "1000,0,0,1,4,1",
        "127,0,0,-1,4,1",
        "127,0,0,1,4,1x",
        "١٢٧,0,0,1,4,1",
    ],  # Arabic-Indic digits are digits to Python, not to FTP
)
def test_bad_port_arguments_raise_address_error(argument: str) -> None:
    with pytest.raises(AddressError):
        parse_port_argument(argument)


@pytest.mark.parametrize("text", ["Entering Passive Mode", "227 (1,2,3)", "(999,0,0,1,4,1)", "(1,2,3,4,0,0)"])
def test_bad_pasv_replies_raise_address_error(text: str) -> None:
    with pytest.raises(AddressError):
        parse_pasv_reply_text(text)


def test_port_format_refuses_ipv6() -> None:
    with pytest.raises(AddressError):
        format_port_argument("::1", 2121)


def test_parse_eprt_ipv4_and_ipv6() -> None:
    assert parse_eprt_argument("|1|132.235.1.2|6275|") == ("132.235.1.2", 6275)
    assert parse_eprt_argument("|2|1080::8:800:200C:417A|5282|") == ("1080::8:800:200c:417a", 5282)
    assert parse_eprt_argument("|2|::1|2121|") == ("::1", 2121)


def test_eprt_accepts_any_printable_delimiter() -> None:
    assert parse_eprt_argument("!1!10.0.0.1!1234!") == ("10.0.0.1", 1234)
    assert parse_eprt_argument("#2#::1#80#") == ("::1", 80)


@given(host=st.one_of(_ipv4, _ipv6), port=_port)
def test_eprt_round_trip(host: str, port: int) -> None:
    argument = format_eprt_argument(host, port)
    assert argument.startswith("|1|" if ipaddress.ip_address(host).version == 4 else "|2|")
    assert parse_eprt_argument(argument) == (host, port)


@pytest.mark.parametrize(
    "argument",
    [
        "|1|127.0.0.1|0|",
        "|1|127.0.0.1|65536|",
        "|1|127.0.0.1||",
        "|1|127.0.0.1|-5|",
        "|1|127.0.0.1|80",
        "1|127.0.0.1|80|",
        "|1|127.0.0.1|80|x",
        "|1|127.0.0.1|80||",
        "|1|300.0.0.1|80|",
        "|1|host.example|80|",
        "|1|::1|80|",
        "|2|127.0.0.1|80|",
        "",
        "|",
        " ",
        "\x01\x011\x01127.0.0.1\x0180\x01",
        "|1|127.0.0.1|²|",
        "|1|127.0.0.1|٨٠|",
        "|1|127.0.0.1|00065536|",
        pytest.param("|1|127.0.0.1|" + "9" * 5000 + "|", id="5000-digit port"),
    ],
)
def test_bad_eprt_arguments_raise_address_error(argument: str) -> None:
    with pytest.raises(AddressError):
        parse_eprt_argument(argument)


@pytest.mark.parametrize("argument", ["|1|::1|80|", "|2|127.0.0.1|80|", "|1|::ffff:1.2.3.4|80|"])
def test_eprt_family_mismatch_is_a_bad_argument_not_an_unknown_protocol(argument: str) -> None:
    with pytest.raises(AddressError) as raised:
        parse_eprt_argument(argument)
    assert "network protocol" not in str(raised.value)


@pytest.mark.parametrize("protocol", ["3", "0", "", "x", "12"])
def test_eprt_unknown_network_protocol_is_named_in_the_error(protocol: str) -> None:
    # The EPRT handler answers 522 when the message names the network protocol.
    with pytest.raises(AddressError, match="network protocol"):
        parse_eprt_argument(f"|{protocol}|127.0.0.1|80|")


def test_epsv_reply_format_and_parse() -> None:
    assert format_epsv_reply_text(50001) == "Entering Extended Passive Mode (|||50001|)"
    assert parse_epsv_reply_text("Entering Extended Passive Mode (!!!6446!)") == 6446


@given(port=_port)
def test_epsv_round_trip(port: int) -> None:
    assert parse_epsv_reply_text(format_epsv_reply_text(port)) == port


@pytest.mark.parametrize(
    "text",
    [
        "Entering Extended Passive Mode",
        "(|||0|)",
        "(|||70000|)",
        "(||6446|)",
        "(|!|6446|)",
        "(|||x|)",
        pytest.param("(|||" + "9" * 5000 + "|)", id="5000-digit port"),
        "(|||٦٤٤٦|)",
    ],
)
def test_bad_epsv_replies_raise_address_error(text: str) -> None:
    with pytest.raises(AddressError):
        parse_epsv_reply_text(text)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::FFFF:10.1.2.3", "10.1.2.3"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected
