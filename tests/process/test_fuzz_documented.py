"""The replies docs/bad-input.md documents are the ones a live server sends."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aioftp_lite.server.server  # noqa: F401 - fills the command table
from aioftp_lite import Server
from aioftp_lite.auth import UserEntry, hash_password

# --- the documented replies ----------------------------------------------------------
ANON, NOBODY, READER = "anonymous", None, "reader"


# (who is logged in, the lines sent, the final reply to the last one as sent on the wire).
# Each reply must also appear in docs/bad-input.md, between backticks, unless it holds
# bytes the document writes in its <...> notation.
DOCUMENTED: list[tuple[str | None, list[bytes], bytes]] = [
    (NOBODY, [b"XYZZY"], b"500 Unknown command XYZZY"),
    (NOBODY, [b"RETRIEVEX f.txt"], b"500 Syntax error: not a command: 'RETRIEVEX'"),
    (NOBODY, [b""], b"500 Syntax error: not a command: ''"),
    (NOBODY, [b"REIN"], b"502 REIN not implemented"),
    (ANON, [b"RETR"], b"501 Syntax error: RETR <file>"),
    (ANON, [b"PWD now"], b"501 Syntax error: PWD takes no argument"),
    (ANON, [b"TYPE X"], b"501 Unknown type X"),
    (ANON, [b"TYPE E"], b"504 Type E not supported"),
    (ANON, [b"MODE B"], b"504 Mode B not supported"),
    (ANON, [b"STRU R"], b"504 Structure R not supported"),
    (ANON, [b"OPTS UTF8 OFF"], b"504 Only UTF8 ON is supported"),
    (ANON, [b"OPTS FOO"], b"501 Option FOO not understood"),
    (ANON, [b"HELP XYZZY"], b"501 Unknown command XYZZY"),
    (ANON, [b"REST abc"], b"501 REST needs a byte offset (a whole number)"),
    (ANON, [b"REST 999", b"RETR f.txt"], b"554 Restart offset 999 is past the end (2 bytes)"),
    (NOBODY, [b"LIST"], b"530 Please log in with USER and PASS first"),
    (NOBODY, [b"PASS x"], b"503 Login with USER first"),
    (ANON, [b"PASS again"], b"230 Already logged in"),
    (ANON, [b"RNTO b"], b"503 RNFR required first"),
    (ANON, [b"RETR f.txt"], b"425 Use PORT, EPRT, PASV or EPSV first"),
    (ANON, [b"EPSV ALL", b"PASV"], b"503 PASV not allowed after EPSV ALL"),
    (ANON, [b"ABOR"], b"225 No transfer to abort"),
    (NOBODY, [b"A" * 5000], b"500 Command line too long"),
    (NOBODY, [b"\xc3( x"], b"500 Syntax error: not a command: '\\udcc3('"),
    (ANON, [b"MKD caf\xe9"], b'257 "/caf\xe9" created'),
    (NOBODY, [b"NOOP\x00"], b"500 Syntax error: NUL byte in command"),
    (NOBODY, [b"NO\xff\xf4OP"], b"200 NOOP ok"),
    (ANON, [b"\xff\xf4\xff\xf2ABOR"], b"225 No transfer to abort"),
    (NOBODY, [b"USER a\rb"], b"331 Password required for a\r\x00b"),
    (ANON, [b"CWD ../../..", b"PWD"], b'257 "/" is the current directory'),
    (ANON, [b"CWD ../../.."], b"250 Directory changed to /"),
    (ANON, [b"RETR ../../etc/passwd"], b"550 No such file or directory"),
    (ANON, [b"CWD escape"], b"550 Path leads outside the root"),
    (ANON, [b"RETR nope.txt"], b"550 No such file or directory"),
    (ANON, [b"STOR nodir/x"], b"550 No such file or directory"),
    (ANON, [b"CWD f.txt"], b"550 f.txt: Not a directory"),
    (ANON, [b"DELE dir"], b"550 Is a directory"),
    (ANON, [b"SIZE dir"], b"550 dir: not a regular file"),
    (ANON, [b"RMD dir"], b"550 Directory not empty"),
    (ANON, [b"MKD dir"], b"550 File exists"),
    (ANON, [b"MKD " + b"x" * 300], b"553 File name too long"),
    (ANON, [b"RNFR /"], b"550 The root folder cannot be renamed"),
    (ANON, [b"DELE /"], b"550 The root folder cannot be changed"),
    (ANON, [b"RMD /"], b"550 Cannot remove the current folder or one above it"),
    (READER, [b"RETR f.txt"], b"550 Permission denied"),
    (ANON, [b"EPSV", b"RETR f.txt"], b"425 Can't open data connection: timed out"),
    (ANON, [b"PORT 1,2,3"], b"501 Bad PORT argument: expected h1,h2,h3,h4,p1,p2"),
    (ANON, [b"PORT 10,0,0,1,4,1"], b"501 PORT to an address other than yours is refused"),
    (ANON, [b"EPRT |1|10.0.0.1|2000|"], b"501 EPRT to an address other than yours is refused"),
    (ANON, [b"PORT 127,0,0,1,0,21"], b"501 PORT to a privileged port is refused"),
    (ANON, [b"EPRT garbage"], b"501 Bad EPRT argument: expected <d>proto<d>address<d>port<d>"),
    (ANON, [b"EPRT |3|x|1|"], b"522 Network protocol not supported, use (1,2)"),
    (ANON, [b"EPSV 2"], b"522 Network protocol not supported, use (1)"),
    (NOBODY, [b"AUTH TLS"], b"502 TLS is not configured on this server"),
    (NOBODY, [b"PBSZ 0"], b"503 Send AUTH TLS first"),
    (NOBODY, [b"PROT P"], b"503 Send AUTH TLS and PBSZ first"),
]
DOC = Path(__file__).parents[2] / "docs" / "bad-input.md"


def last_final_reply(port: int, login: str | None, lines: list[bytes]) -> bytes:
    """The wire bytes (without CRLF) of the final reply to the last line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as control:
        received = bytearray()

        def next_line() -> bytes:
            while b"\r\n" not in received:
                chunk = control.recv(65536)
                assert chunk, f"connection closed; got {bytes(received)!r}"
                received.extend(chunk)
            line, _, rest = bytes(received).partition(b"\r\n")
            received[:] = rest
            return line

        def final(line: bytes) -> bytes:
            control.sendall(line + b"\r\n")
            reply = next_line()
            while reply[:1] == b"1":
                reply = next_line()
            return reply

        assert next_line().startswith(b"220 ")
        if login:
            assert final(f"USER {login}".encode()).startswith(b"331 ")
            assert final(b"PASS pw").startswith(b"230 ")
        replies = [final(line) for line in lines]
        return replies[-1]


async def test_every_documented_reply_is_what_the_server_sends(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "dir" / "inner").mkdir(parents=True)
    (root / "f.txt").write_bytes(b"hi")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    reader = UserEntry(hash_password("pw"), None, frozenset({"list"}))
    accounts = {READER: reader}
    async with Server(
        root=root, host="127.0.0.1", port=0, accounts=accounts, anonymous="write", data_timeout=0.3
    ) as server:

        def replay() -> list[bytes]:
            return [last_final_reply(server.port, login, lines) for login, lines, _ in DOCUMENTED]

        got = await asyncio.wait_for(asyncio.to_thread(replay), 60)
    mismatches = [
        (lines, want, have) for (_, lines, want), have in zip(DOCUMENTED, got, strict=True) if want != have
    ]
    assert mismatches == [], mismatches
    document = DOC.read_text(encoding="utf-8")
    for _, _, reply in DOCUMENTED:
        text = reply.decode("utf-8", "surrogateescape")
        if text.isprintable() and text.isascii():
            assert f"`{text}`" in document, f"docs/bad-input.md does not show `{text}`"
