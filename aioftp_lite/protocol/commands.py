"""Command lines: bytes from the control connection into (verb, argument).

Pure grammar. Telnet control sequences (RFC 854) are dropped, as clients send
`IAC IP IAC DM` before ABOR; the verb is case-insensitive (RFC 959 5.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from .replies import ENCODING, ERRORS

IAC = 0xFF
# Telnet option negotiation verbs take one more byte (WILL, WONT, DO, DONT).
_TELNET_WITH_OPTION = {0xFB, 0xFC, 0xFD, 0xFE}


@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # upper case, e.g. "RETR"
    argument: str  # the rest of the line, may be empty; spaces inside are kept

    def __str__(self) -> str:
        if self.verb == "PASS":
            return "PASS ****"  # never log a password
        return f"{self.verb} {self.argument}".rstrip()


class CommandSyntaxError(ValueError):
    """The line is not `VERB [argument]`."""


def strip_telnet(line: bytes) -> bytes:
    """Remove Telnet IAC sequences; `IAC IAC` stands for a literal 0xFF byte."""
    if IAC not in line:
        return line
    out = bytearray()
    index = 0
    while index < len(line):
        byte = line[index]
        if byte != IAC:
            out.append(byte)
            index += 1
            continue
        following = line[index + 1] if index + 1 < len(line) else None
        if following == IAC:
            out.append(IAC)
            index += 2
        elif following in _TELNET_WITH_OPTION:
            index += 3
        else:
            index += 2
    return bytes(out)


def parse_command(line: bytes) -> Command:
    """Parse one control line (with or without its CRLF) into a `Command`."""
    line = strip_telnet(line.rstrip(b"\r\n"))
    text = line.decode(ENCODING, ERRORS)
    if "\x00" in text:
        raise CommandSyntaxError("NUL byte in command")
    verb, _, argument = text.lstrip(" ").partition(" ")
    # Letters, then digits only at the end (XSHA256, XSHA1: checksum commands WinSCP sends).
    letters = verb.rstrip("0123456789")
    if not letters or not letters.isascii() or not letters.isalpha() or len(verb) > 8:
        raise CommandSyntaxError(f"not a command: {verb[:20]!r}")
    return Command(verb.upper(), argument)


# The largest offset a file can have (a signed 64-bit off_t): REST beyond it is a syntax error.
MAX_OFFSET = 2**63 - 1


def parse_offset(argument: str) -> int | None:
    """A byte offset (REST): ASCII digits only; None if it is not one. Anything above
    MAX_OFFSET comes back as MAX_OFFSET + 1, so a huge number is never converted.

    Not `str.isdigit()` alone: it takes "²" and other Unicode digits that int() refuses.
    """
    text = argument.strip(" ")
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text.lstrip("0")) > len(str(MAX_OFFSET)):
        return MAX_OFFSET + 1
    return min(int(text), MAX_OFFSET + 1)


def format_command(verb: str, argument: str = "") -> bytes:
    """Wire form of a command, for clients. Refuses line breaks that would inject a second command."""
    if "\r" in argument or "\n" in argument:
        raise ValueError("line break in FTP command argument")
    text = f"{verb} {argument}" if argument else verb
    # The control connection is Telnet: a literal 0xFF byte must travel as IAC IAC (RFC 854).
    wire = text.encode(ENCODING, ERRORS).replace(b"\xff", b"\xff\xff")
    return wire + b"\r\n"
