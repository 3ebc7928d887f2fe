"""Command-line grammar on bytes alone: what the server makes of each control line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioftp_lite.protocol.commands import (
    Command,
    CommandSyntaxError,
    format_command,
    parse_command,
    strip_telnet,
)

IAC, IP, DM, WILL, DO = b"\xff", b"\xf4", b"\xf2", b"\xfb", b"\xfd"


@pytest.mark.parametrize("verb", [b"retr", b"RETR", b"Retr", b"rEtR"])
def test_verb_is_case_insensitive(verb: bytes) -> None:
    assert parse_command(verb + b" file.txt\r\n") == Command("RETR", "file.txt")


def test_argument_keeps_inner_leading_and_trailing_spaces() -> None:
    command = parse_command(b"STOR  my file  .txt \r\n")
    assert command.verb == "STOR"
    assert command.argument == " my file  .txt "


def test_verb_without_argument() -> None:
    assert parse_command(b"PWD\r\n") == Command("PWD", "")


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b""])
def test_crlf_bare_lf_or_no_line_ending(ending: bytes) -> None:
    assert parse_command(b"CWD docs" + ending) == Command("CWD", "docs")


def test_iac_ip_iac_dm_before_abor_is_dropped() -> None:
    # What ftplib and others send for an urgent ABOR (RFC 959 4.1.3).
    assert parse_command(IAC + IP + IAC + DM + b"ABOR\r\n") == Command("ABOR", "")


def test_iac_iac_is_a_literal_0xff_byte() -> None:
    command = parse_command(b"STOR a" + IAC + IAC + b"b\r\n")
    assert command.argument.encode("utf-8", "surrogateescape") == b"a\xffb"


def test_telnet_option_negotiation_takes_three_bytes() -> None:
    assert strip_telnet(IAC + WILL + b"\x01NOOP") == b"NOOP"
    assert strip_telnet(IAC + DO + b"\x03NOOP") == b"NOOP"


def test_iac_at_the_very_end_is_dropped() -> None:
    assert strip_telnet(b"NOOP" + IAC) == b"NOOP"


def test_line_without_iac_is_returned_unchanged() -> None:
    line = b"LIST -la"
    assert strip_telnet(line) is line


@pytest.mark.parametrize("line", [b"RETR a\x00b\r\n", b"\x00RETR a\r\n"])
def test_nul_byte_is_refused(line: bytes) -> None:
    with pytest.raises(CommandSyntaxError):
        parse_command(line)


@pytest.mark.parametrize(
    "line",
    [
        b"\r\n",
        b"   \r\n",
        b"R3TR x\r\n",
        b"123 x\r\n",
        b"RE-TR x\r\n",
        b"\xc3\xa9TR x\r\n",
        b"VERYLONGVERB x\r\n",
        "ＲＥＴＲ x\r\n".encode(),
    ],
)
def test_verb_must_be_up_to_eight_ascii_letters(line: bytes) -> None:
    with pytest.raises(CommandSyntaxError):
        parse_command(line)


def test_non_utf8_argument_round_trips_through_surrogateescape() -> None:
    raw_name = b"caf\xe9 \x80\xfe.txt"  # Latin-1, not UTF-8
    command = parse_command(b"RETR " + raw_name + b"\r\n")
    assert command.argument.encode("utf-8", "surrogateescape") == raw_name


def test_utf8_argument_is_decoded() -> None:
    assert parse_command("MKD Über ñame\r\n".encode()).argument == "Über ñame"


def test_pass_is_masked_in_str_and_other_commands_are_not() -> None:
    password = parse_command(b"PASS hunter2 secret\r\n")
    assert password.argument == "hunter2 secret"
    assert "hunter2" not in str(password)
    assert str(password) == "PASS ****"
    assert str(parse_command(b"pass x\r\n")) == "PASS ****"
    assert str(parse_command(b"RETR a b\r\n")) == "RETR a b"
    assert str(parse_command(b"NOOP\r\n")) == "NOOP"


def test_format_command_wire_form() -> None:
    assert format_command("NOOP") == b"NOOP\r\n"
    assert format_command("RETR", "my file.txt") == b"RETR my file.txt\r\n"
    assert format_command("MKD", "Über") == "MKD Über\r\n".encode()


def test_format_command_doubles_a_literal_0xff_byte_as_telnet_requires() -> None:
    wire = format_command("RETR", b"a\xffb".decode("utf-8", "surrogateescape"))
    assert wire == b"RETR a" + IAC + IAC + b"b\r\n"


@pytest.mark.parametrize("argument", ["a\r\nDELE b", "a\nDELE b", "a\rDELE b", "\n"])
def test_format_command_refuses_line_break_injection(argument: str) -> None:
    with pytest.raises(ValueError):
        format_command("RETR", argument)


_verbs = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
# Any argument bytes a client may send: no line break, no NUL (both refused by design).
_argument_bytes = st.binary(max_size=60).filter(lambda b: not set(b) & {0x0A, 0x0D, 0x00})


@given(verb=_verbs, raw=_argument_bytes)
def test_format_then_parse_round_trips_any_bytes(verb: str, raw: bytes) -> None:
    argument = raw.decode("utf-8", "surrogateescape")
    wire = format_command(verb, argument)
    assert wire.endswith(b"\r\n")
    parsed = parse_command(wire)
    assert parsed.verb == verb.upper()
    assert parsed.argument.encode("utf-8", "surrogateescape") == raw


def test_verbs_may_end_in_digits() -> None:
    """XSHA256 and XSHA1, as WinSCP sends them; a digit inside (R3TR) stays refused above."""
    assert parse_command(b"XSHA256 a.txt\r\n").verb == "XSHA256"
    assert parse_command(b"xsha1 a.txt\r\n").verb == "XSHA1"
