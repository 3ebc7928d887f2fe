"""Passwords for batch mode (~/.netrc, --password-file, $AIOFTP_LITE_PASSWORD) and bookmarks.

The server has one named user and no anonymous access, so a run that logs in at all
logged in as that user with the right password. HOME and XDG_DATA_HOME point into the
test's own folder.
"""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.clients import ACCOUNTS, PASSWORD, USER
from tests.support.processes import client


@pytest.fixture
async def named_only(root: Path) -> AsyncIterator[Server]:
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_bytes(b"for alice\n")
    async with Server(root=root, host="127.0.0.1", port=0, accounts=ACCOUNTS) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def write_netrc(home: Path, text: str) -> None:
    (home / ".netrc").write_text(text)
    (home / ".netrc").chmod(0o600)


async def test_netrc_gives_the_login_and_the_password(named_only: Server, home: Path) -> None:
    port = named_only.port
    write_netrc(
        home, f'machine 127.0.0.1 login {USER} password "{PASSWORD}"\ndefault login nobody password x\n'
    )
    status, out, err = await client(home, f"ftp://127.0.0.1:{port}/docs", "-c", "get a.txt; pwd")
    assert (status, err, out.splitlines()[-1]) == (0, "", "/docs")
    assert (home / "a.txt").read_bytes() == b"for alice\n"
    status, out, err = await client(home, f"ftp://{USER}@127.0.0.1:{port}", "-c", "pwd")
    assert (status, err, out) == (0, "", "/\n")
    # The REPL's own `open` reads it too.
    status, out, err = await client(home, "-c", f"open 127.0.0.1:{port}; pwd")
    assert (status, err, out) == (0, "", "/\n")
    # A wrong password in ~/.netrc is the server's 530, in one line.
    write_netrc(home, f"machine 127.0.0.1 login {USER} password wrong\n")
    status, _, err = await client(home, f"ftp://127.0.0.1:{port}", "-c", "pwd")
    assert status == 1 and err.count("\n") == 1 and " 530 " in err


async def test_password_file_standard_input_and_environment(named_only: Server, home: Path) -> None:
    url = f"ftp://{USER}@127.0.0.1:{named_only.port}"
    (home / "pw").write_text(PASSWORD + "\n")
    status, out, err = await client(home, url, "--password-file", "pw", "-c", "pwd")
    assert (status, err, out) == (0, "", "/\n")
    status, out, err = await client(
        home, url, "--password-file", "-", "-c", "pwd", stdin=PASSWORD.encode() + b"\n"
    )
    assert (status, err, out) == (0, "", "/\n")
    status, out, err = await client(home, url, "-c", "pwd", AIOFTP_LITE_PASSWORD=PASSWORD)
    assert (status, err, out) == (0, "", "/\n")
    # Mistakes are one line each.
    status, _, err = await client(home, url, "--password-file", "missing", "-c", "pwd")
    assert (status, err) == (1, "aioftp-lite-client: --password-file missing: no such file or directory\n")
    status, _, err = await client(home, url, "--password-file", "-", stdin=b"pwd\n")
    assert status == 1 and "standard input carries the commands" in err


async def test_bookmarks_without_and_with_the_password(named_only: Server, home: Path) -> None:
    port = named_only.port
    write_netrc(home, f'machine 127.0.0.1 login {USER} password "{PASSWORD}"\n')
    status, out, err = await client(
        home, f"ftp://{USER}@127.0.0.1:{port}", "-c", "cd docs; bookmark add work"
    )
    assert (status, err) == (0, "")
    assert out == f"bookmark work: ftp://{USER}@127.0.0.1:{port}/docs\n"
    marks = home / "data" / "aioftp-lite" / "bookmarks"
    assert stat.S_IMODE(marks.stat().st_mode) == 0o600
    assert "s3cret" not in marks.read_text()
    status, out, err = await client(home, "-c", "open work; pwd; get a.txt")
    assert (status, err, out.splitlines()[0]) == (0, "", "/docs")
    # Saved with the password (asked for), it needs no ~/.netrc; the listing masks the password.
    (home / ".netrc").unlink()
    secret = PASSWORD.replace(" ", "%20")
    command = f"bookmark add --save-password keep ftp://{USER}:{secret}@127.0.0.1:{port}/docs; bookmark list"
    status, out, err = await client(home, "-c", command)
    assert (status, err) == (0, "")
    assert f"keep  ftp://{USER}:***@127.0.0.1:{port}/docs" in out.splitlines()
    assert f"work  ftp://{USER}@127.0.0.1:{port}/docs" in out.splitlines()
    assert stat.S_IMODE(marks.stat().st_mode) == 0o600
    status, out, err = await client(home, "-c", "open keep; pwd")
    assert (status, err, out) == (0, "", "/docs\n")
    status, _, err = await client(home, "-c", "open work")  # no password anywhere, and no terminal
    assert status == 1 and "a password is needed" in err
    status, out, err = await client(home, "-c", "bookmark del keep; bookmark list")
    assert (status, err) == (0, "") and "keep" not in out and "work" in out
    status, _, err = await client(home, "-c", "bookmark del keep")
    assert (status, err) == (1, "aioftp-lite-client: bookmark del keep: no bookmark 'keep'\n")
