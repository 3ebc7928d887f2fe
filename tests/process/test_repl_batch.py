"""Batch mode of `aioftp-lite-client`: `-c "..."` and commands on standard input, in a subprocess.

The server runs on the test's event loop; the client is a real process without a
terminal. Files are checked on disk; a failure must stop the run with exit status 1
and exactly one line on standard error.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.clients import PASSWORD, USER
from tests.support.files import sha
from tests.support.processes import run_client


@pytest.fixture
def local(tmp_path: Path) -> Path:
    folder = tmp_path / "local"
    folder.mkdir()
    return folder


@pytest.fixture
def tree(root: Path) -> Path:
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_bytes(os.urandom(40_000))
    (root / "docs" / "b.txt").write_bytes(os.urandom(50_000))
    return root


async def test_commands_option(server: Server, tree: Path, local: Path) -> None:
    (local / "up.bin").write_bytes(os.urandom(123_456))
    url = f"ftp://127.0.0.1:{server.port}"
    status, out, err = await run_client(url, "-c", "cd docs; get a.txt; put up.bin; mkdir new; ls", cwd=local)
    assert (status, err) == (0, "")
    assert sha(local / "a.txt") == sha(tree / "docs" / "a.txt")
    assert sha(tree / "docs" / "up.bin") == sha(local / "up.bin")
    assert (tree / "docs" / "new").is_dir()
    assert out.splitlines()[0].startswith("got a.txt: 39.1 KiB in ")
    assert out.splitlines()[1].startswith("sent up.bin: 120.6 KiB in ")
    assert [line.split()[-1] for line in out.splitlines()[2:]] == ["a.txt", "b.txt", "new/", "up.bin"]


async def test_active_mode(server: Server, tree: Path, local: Path) -> None:
    status, _, err = await run_client(
        f"127.0.0.1:{server.port}", "--active", "-c", "get docs/b.txt", cwd=local
    )
    assert (status, err) == (0, "")
    assert sha(local / "b.txt") == sha(tree / "docs" / "b.txt")


async def test_the_first_failure_stops_with_status_1_and_one_line(
    server: Server, tree: Path, local: Path
) -> None:
    url = f"ftp://127.0.0.1:{server.port}/docs"
    status, _, err = await run_client(url, "-c", "get a.txt; get missing.txt; get b.txt", cwd=local)
    assert status == 1
    assert err == "aioftp-lite-client: get missing.txt: 550 No such file or directory\n"
    assert (local / "a.txt").exists() and not (local / "b.txt").exists()  # stopped at the failure
    assert not (local / "missing.txt").exists()


async def test_commands_on_standard_input(server: Server, tree: Path, local: Path) -> None:
    for name in ("x1.csv", "x2.csv"):
        (local / name).write_bytes(os.urandom(3000))
    script = b"# upload the reports\n\ncd docs\nmkdir reports\ncd reports\nmput *.csv\ncd ..\nmget *.txt\n"
    status, out, err = await run_client(f"ftp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{server.port}",
                                        cwd=local, stdin=script)  # fmt: skip
    assert (status, err) == (0, "")
    for name in ("x1.csv", "x2.csv"):
        assert sha(tree / "docs" / "reports" / name) == sha(local / name)
    for name in ("a.txt", "b.txt"):
        assert sha(local / name) == sha(tree / "docs" / name)
    assert "sent 2 files:" in out and "got 2 files:" in out


async def test_standard_input_stops_at_the_first_failure(server: Server, tree: Path, local: Path) -> None:
    script = b"cd docs\nrmdir nothing-here\nget a.txt\n"
    status, _, err = await run_client(f"127.0.0.1:{server.port}", cwd=local, stdin=script)
    assert status == 1
    assert err.count("\n") == 1 and err.startswith("aioftp-lite-client: rmdir nothing-here: 550 ")
    assert not (local / "a.txt").exists()


async def test_connection_problems_are_one_line(server: Server, local: Path) -> None:
    wrong = f"ftp://{USER}:wrong@127.0.0.1:{server.port}"
    status, _, err = await run_client(wrong, "-c", "ls", cwd=local)
    assert status == 1 and err.count("\n") == 1 and " 530 " in err
    # A user without a password and no terminal to ask on.
    status, _, err = await run_client(f"ftp://{USER}@127.0.0.1:{server.port}", "-c", "ls", cwd=local)
    assert status == 1 and err.count("\n") == 1 and "a password is needed" in err
    # Nobody listening.
    with_closed_port = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = with_closed_port.sockets[0].getsockname()[1]
    with_closed_port.close()
    await with_closed_port.wait_closed()
    status, _, err = await run_client(f"127.0.0.1:{port}", "-c", "ls", cwd=local)
    assert status == 1 and err.count("\n") == 1 and "Could not connect" in err
    # Not connected at all.
    status, _, err = await run_client("-c", "lpwd; ls", cwd=local)
    assert (
        status == 1
        and err == "aioftp-lite-client: ls: not connected (use `open HOST` or `open ftp://user@host`)\n"
    )


async def test_bad_arguments_exit_2(local: Path) -> None:
    status, _, err = await run_client("sftp://host", "-c", "ls", cwd=local)
    assert (
        status == 2
        and err == "aioftp-lite-client: error: only ftp:// and ftpes:// URLs are supported, not sftp://\n"
    )
    status, _, err = await run_client("host", "-p", "99999", cwd=local)
    assert status == 2 and err.count("\n") == 1 and "port" in err
