"""Issue 12 point 8: REST with junk or huge numbers is the client's mistake, never a 451.

501 for anything that is not an ASCII whole number up to 2**63-1 (the largest file
offset); 554 (RFC 3659) when a valid offset is past the end of the file, for RETR and
for STOR; nothing created on disk; no traceback in the server's log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aioftp_lite import Server
from aioftp_lite.protocol.commands import MAX_OFFSET, parse_offset
from tests.support.control import RawControl, receive_all
from tests.support.threads import in_thread

CONTENT = b"0123456789"


@pytest.mark.parametrize(
    "text, expected",
    [("5", 5), (" 42 ", 42), ("0" * 30 + "7", 7), (str(MAX_OFFSET), MAX_OFFSET),
     ("²", None), ("５", None), ("٣", None), ("-1", None), ("+1", None), ("1 2", None), ("", None),
     ("  ", None), ("0x10", None), ("1e3", None),
     (str(MAX_OFFSET + 1), MAX_OFFSET + 1), ("18446744073709551616", MAX_OFFSET + 1),
     ("9" * 24, MAX_OFFSET + 1), ("9" * 5000, MAX_OFFSET + 1)],
)  # fmt: skip
def test_parse_offset(text: str, expected: int | None) -> None:
    assert parse_offset(text) == expected


def _session(port: int, lines: list[str]) -> list[tuple[int, str]]:
    """Send each line (a data transfer for RETR/STOR), return every reply's code and text."""
    control = RawControl(port)
    control.login()
    assert control.command("TYPE I").code == 200
    replies = []
    try:
        for line in lines:
            if line.startswith(("RETR", "STOR")):
                data = control.open_epsv()
                reply = control.command(line)
                replies.append((reply.code, reply.text))
                if reply.code == 150:
                    if line.startswith("STOR"):
                        data.sendall(b"new")
                        data.close()
                        received = b""
                    else:
                        received = receive_all(data)
                        data.close()
                    reply = control.read_reply()
                    replies.append((reply.code, reply.text + f" [{len(received)} bytes received]"))
                data.close()
            else:
                reply = control.command(line)
                replies.append((reply.code, reply.text))
        assert control.command("NOOP").code == 200  # the session goes on
    finally:
        control.close()
    return replies


def _assert_clean_log(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]
    assert "Traceback" not in caplog.text
    assert "Internal error" not in caplog.text


SYNTAX = ["REST ²", "REST ５", "REST -1", "REST 1 2", "REST +3", "REST 0x10", "REST 18446744073709551616",
          f"REST {MAX_OFFSET + 1}", "REST " + "9" * 24]  # fmt: skip


@pytest.mark.parametrize("line", SYNTAX)
async def test_junk_rest_is_501_and_forgets_nothing(
    server: Server, root: Path, caplog: pytest.LogCaptureFixture, line: str
) -> None:
    """501, and no offset stays set: the RETR that follows sends the whole file."""
    caplog.set_level(logging.DEBUG, logger="aioftp_lite")
    (root / "f.bin").write_bytes(CONTENT)
    replies = await in_thread(lambda: _session(server.port, [line, "RETR f.bin"]))
    assert replies[0][0] == 501, replies
    assert [code for code, _ in replies[1:]] == [150, 226], replies
    assert f"[{len(CONTENT)} bytes received]" in replies[2][1]
    _assert_clean_log(caplog)


@pytest.mark.parametrize("offset", [len(CONTENT) + 1, 10**18, MAX_OFFSET])
async def test_rest_past_the_end_then_retr_is_554(
    server: Server, root: Path, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    caplog.set_level(logging.DEBUG, logger="aioftp_lite")
    (root / "f.bin").write_bytes(CONTENT)
    replies = await in_thread(lambda: _session(server.port, [f"REST {offset}", "RETR f.bin", "RETR f.bin"]))
    assert [code for code, _ in replies] == [350, 554, 150, 226], replies
    assert f"Restart offset {offset} is past the end" in replies[1][1]
    _assert_clean_log(caplog)


async def test_rest_at_the_end_then_retr_sends_nothing(server: Server, root: Path) -> None:
    (root / "f.bin").write_bytes(CONTENT)
    replies = await in_thread(lambda: _session(server.port, [f"REST {len(CONTENT)}", "RETR f.bin"]))
    assert [code for code, _ in replies] == [350, 150, 226], replies
    assert "[0 bytes received]" in replies[2][1]


@pytest.mark.parametrize("offset", [len(CONTENT) + 1, MAX_OFFSET])
async def test_rest_past_the_end_then_stor_is_554_and_writes_nothing(
    server: Server, root: Path, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    """No hole, no sparse file of 2**63 bytes, no clamping: the old file stays as it was."""
    caplog.set_level(logging.DEBUG, logger="aioftp_lite")
    (root / "f.bin").write_bytes(CONTENT)
    replies = await in_thread(lambda: _session(server.port, [f"REST {offset}", "STOR f.bin"]))
    assert [code for code, _ in replies] == [350, 554], replies
    assert (root / "f.bin").read_bytes() == CONTENT
    assert sorted(p.name for p in root.iterdir()) == ["f.bin"]
    _assert_clean_log(caplog)


async def test_huge_rest_then_stor_of_a_missing_file_creates_nothing(
    server: Server, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aioftp_lite")
    replies = await in_thread(lambda: _session(server.port, [f"REST {MAX_OFFSET}", "STOR new.bin"]))
    assert replies[0][0] == 350 and replies[1][0] in (550, 554), replies
    assert list(root.iterdir()) == []
    _assert_clean_log(caplog)


async def test_rest_within_the_file_still_resumes(server: Server, root: Path) -> None:
    (root / "f.bin").write_bytes(CONTENT)
    replies = await in_thread(lambda: _session(server.port, ["REST 4", "RETR f.bin", "REST 4", "STOR f.bin"]))
    assert [code for code, _ in replies] == [350, 150, 226, 350, 150, 226], replies
    assert "[6 bytes received]" in replies[2][1]
    assert (root / "f.bin").read_bytes() == b"0123new"
