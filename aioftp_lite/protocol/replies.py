"""FTP replies: named codes, encoding (multi-line too) and an incremental parser.

Pure grammar: no sockets, no files. The server encodes replies with `Reply.encode`;
the client feeds received bytes to `ReplyParser` and gets whole `Reply` objects back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

ENCODING = "utf-8"
# Paths are bytes on the wire; undecodable bytes round-trip instead of failing (RFC 2640).
ERRORS = "surrogateescape"


class Code(IntEnum):
    """Reply codes of RFC 959 and its extensions, by meaning."""

    RESTART_MARKER = 110
    SERVICE_READY_SOON = 120
    TRANSFER_STARTING = 125
    FILE_STATUS_OK = 150
    OK = 200
    NOT_NEEDED = 202
    SYSTEM_STATUS = 211
    DIRECTORY_STATUS = 212
    FILE_STATUS = 213
    HELP = 214
    SYSTEM_TYPE = 215
    SERVICE_READY = 220
    CLOSING_CONTROL = 221
    DATA_OPEN = 225
    CLOSING_DATA = 226
    PASSIVE = 227
    EXTENDED_PASSIVE = 229
    LOGGED_IN = 230
    AUTH_OK = 234
    FILE_ACTION_OK = 250
    PATH_CREATED = 257
    NEED_PASSWORD = 331
    NEED_ACCOUNT = 332
    PENDING_FURTHER_INFO = 350
    SERVICE_UNAVAILABLE = 421
    CANT_OPEN_DATA = 425
    TRANSFER_ABORTED = 426
    SECURITY_RESOURCE_UNAVAILABLE = 431  # RFC 2228: "Need some unavailable resource to process security"
    ACTION_NOT_TAKEN = 450
    LOCAL_ERROR = 451
    INSUFFICIENT_STORAGE = 452
    SYNTAX_ERROR = 500
    BAD_ARGUMENT = 501
    NOT_IMPLEMENTED = 502
    BAD_SEQUENCE = 503
    PARAMETER_NOT_IMPLEMENTED = 504
    PROTECTION_REQUIRED = 521  # data connections must be protected (PROT P) first
    NETWORK_PROTOCOL_NOT_SUPPORTED = 522  # RFC 2428: EPRT/EPSV with a protocol we do not speak
    # vsftpd's answer, same code: a data connection that did not resume the control connection's TLS session.
    DATA_TLS_REFUSED = 522
    NOT_LOGGED_IN = 530
    DATA_PROTECTION_REFUSED = 534  # RFC 2228: request denied for policy reasons (PROT C, CCC)
    PROTECTION_LEVEL_NOT_SUPPORTED = 536  # RFC 2228
    FILE_UNAVAILABLE = 550
    EXCEEDED_STORAGE = 552
    BAD_FILE_NAME = 553
    INVALID_RESTART = 554  # RFC 3659 5.5: the REST offset does not fit the file


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: a three-digit code and its text (lines joined by '\\n')."""

    code: int
    text: str = ""

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @property
    def is_positive(self) -> bool:
        return 100 <= self.code < 400

    @property
    def is_preliminary(self) -> bool:
        return 100 <= self.code < 200

    def encode(self) -> bytes:
        """Wire form; several lines become an RFC 959 multi-line reply.

        Inner lines are indented by one space so that none can be mistaken
        for the closing line (which starts with the code and a space).
        """
        return encode_reply(self.code, self.text)

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


def encode_reply(code: int, text: str) -> bytes:
    """`Reply(code, text).encode()` without building the Reply (the server's hot path)."""
    if "\n" not in text and "\r" not in text:  # nearly every reply: one plain line
        return f"{code} {text}\r\n".encode(ENCODING, ERRORS)
    # Telnet NVT (RFC 854, RFC 2640 3.1): a CR that is not part of CRLF travels as CR NUL,
    # so a name with a CR in it, echoed in a reply, cannot end a reply line early.
    lines = [line.replace("\r", "\r\x00") for line in text.split("\n")]
    if len(lines) == 1:
        return f"{code} {lines[0]}\r\n".encode(ENCODING, ERRORS)
    head = f"{code}-{lines[0]}\r\n"
    body = "".join(f" {line}\r\n" for line in lines[1:-1])
    tail = f"{code} {lines[-1]}\r\n"
    return (head + body + tail).encode(ENCODING, ERRORS)


class ReplyParseError(ValueError):
    """The peer sent something that is not an FTP reply."""


_FIRST_LINE = re.compile(r"^(\d{3})([ -])(.*)$", re.DOTALL)


class ReplyParser:
    """Incremental parser: feed bytes as they arrive, collect complete replies.

    Handles multi-line replies (`123-first` ... `123 last`) whose inner lines may
    be anything, including lines that start with other digits.
    """

    def __init__(self, max_line: int = 64 * 1024, max_reply: int = 16 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._max_line = max_line
        # A multi-line reply that never ends must not grow without bound (a hostile peer).
        self._max_reply = max_reply
        self._reply_size = 0
        self._code: int | None = None  # set while inside a multi-line reply
        self._lines: list[str] = []

    def feed(self, data: bytes) -> list[Reply]:
        self._buffer += data
        replies: list[Reply] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                # +1: a final CR may still be the first half of the line's CRLF.
                if len(self._buffer) > self._max_line + 1:
                    raise ReplyParseError("reply line too long")
                return replies
            raw = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            line = raw.rstrip(b"\r\n")
            # Checked on whole lines too, so the outcome never depends on how reads were split.
            if len(line) > self._max_line:
                raise ReplyParseError("reply line too long")
            # CR NUL is how Telnet sends a CR that does not end the line (see Reply.encode).
            reply = self._take_line(line.decode(ENCODING, ERRORS).replace("\r\x00", "\r"))
            if reply is not None:
                replies.append(reply)

    def _take_line(self, line: str) -> Reply | None:
        if self._code is None:
            match = _FIRST_LINE.match(line)
            if match is None:
                raise ReplyParseError(f"not an FTP reply: {line[:80]!r}")
            code, separator, text = int(match[1]), match[2], match[3]
            if separator == " ":
                return Reply(code, text)
            self._code, self._lines, self._reply_size = code, [text], len(text)
            return None
        if line.startswith(f"{self._code} ") or line == str(self._code):
            reply = Reply(self._code, "\n".join([*self._lines, line[4:]]))
            self._code, self._lines = None, []
            return reply
        self._reply_size += len(line) + 1
        if self._reply_size > self._max_reply:
            raise ReplyParseError(f"multi-line reply longer than {self._max_reply} bytes")
        # Inner lines may carry a leading space (RFC 959 suggests it); keep the text only.
        self._lines.append(line[1:] if line.startswith(" ") else line)
        return None
