"""`aioftp-lite serve` as a user runs it: a real process, real signals, real clients.

The installed console script is started as a subprocess; it must print the address it
listens on, serve ftplib clients, stop with exit status 0 on SIGTERM and SIGINT, and turn
every bad argument into exactly one clear line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import re
import signal
import socket
from pathlib import Path

import pytest

from tests.support.clients import connect_ftplib
from tests.support.processes import SCRIPT, START_TIMEOUT, serve


async def run_to_completion(*arguments: str, cwd: Path) -> tuple[int, str, str]:
    """Run a command that should fail at start-up; returns (exit status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT), *arguments, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def ftp_session(port: int, user: str = "anonymous", password: str = "guest@") -> list[str]:
    """Upload a file, list the root, download the file back; returns the listing."""
    client = connect_ftplib(port, user, password)
    try:
        client.storbinary("STOR hello.txt", io.BytesIO(b"hello from the cli test\n"))
        names = client.nlst()
        received = io.BytesIO()
        client.retrbinary("RETR hello.txt", received.write)
        assert received.getvalue() == b"hello from the cli test\n"
        client.quit()
    finally:
        client.close()
    return names


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_prints_its_address_serves_and_stops_cleanly(tmp_path: Path, signal_number: int) -> None:
    root = tmp_path / "served"
    root.mkdir()
    async with serve("--root", str(root), "--port", "0", cwd=tmp_path) as server:
        assert server.root == root.resolve()
        assert server.port > 0
        names = await asyncio.wait_for(asyncio.to_thread(ftp_session, server.port), 20)
        assert names == ["hello.txt"]
        assert (root / "hello.txt").read_bytes() == b"hello from the cli test\n"

        # A client still connected must not keep the server from stopping.
        idle = await asyncio.to_thread(connect_ftplib, server.port)
        try:
            status, stderr = await server.stop(signal_number)
        finally:
            idle.close()
    assert status == 0, stderr
    assert "Traceback" not in stderr
    # Nothing listens on the port any more.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()


@pytest.mark.parametrize(
    "choice, expected", [("auto", "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")]
)
async def test_event_loop_choice_is_used_and_serves(tmp_path: Path, choice: str, expected: str) -> None:
    pytest.importorskip("uvloop", reason="uvloop is in the test extra; install it to run this test")
    root = tmp_path / "served"
    root.mkdir()
    payload = bytes(range(256)) * 40_000  # 10 MB: the zero-copy paths, not the small-file one
    (root / "big.bin").write_bytes(payload)

    def round_trip(port: int) -> bytes:
        client = connect_ftplib(port)
        try:
            received = io.BytesIO()
            client.retrbinary("RETR big.bin", received.write)
            client.storbinary("STOR copy.bin", io.BytesIO(received.getvalue()))
            client.quit()
        finally:
            client.close()
        return received.getvalue()

    async with serve("--root", str(root), "--port", "0", "--event-loop", choice, cwd=tmp_path) as server:
        received = await asyncio.wait_for(asyncio.to_thread(round_trip, server.port), 20)
        status, stderr = await server.stop()
    assert status == 0, stderr
    assert received == payload
    assert (root / "copy.bin").read_bytes() == payload
    assert f"event loop: {expected}" in stderr


async def test_default_root_is_created_in_the_current_folder(tmp_path: Path) -> None:
    assert not (tmp_path / "ftp-root").exists()
    async with serve("--port", "0", cwd=tmp_path) as server:
        assert server.root == (tmp_path / "ftp-root").resolve()
        assert (tmp_path / "ftp-root").is_dir()
        assert server.banner.endswith("(anonymous: read-write)")
        await asyncio.wait_for(asyncio.to_thread(ftp_session, server.port), 20)
        status, stderr = await server.stop()
    assert status == 0, stderr
    assert (tmp_path / "ftp-root" / "hello.txt").read_bytes() == b"hello from the cli test\n"


async def test_named_user_no_anonymous_and_read_only(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "public.txt").write_bytes(b"public\n")
    (root / ".private").write_bytes(b"dotfile\n")
    arguments = (
        "--root",
        str(root),
        "--port",
        "0",
        "--user",
        "bob:pass:with:colons",
        "--no-anonymous",
        "--read-only",
    )

    def check(port: int) -> None:
        with pytest.raises(ftplib.error_perm, match="^530"):
            connect_ftplib(port)  # anonymous is refused
        client = connect_ftplib(port, "bob", "pass:with:colons")  # only the first colon splits
        try:
            assert client.nlst() == ["public.txt"]  # no dotfiles without --show-hidden
            with pytest.raises(ftplib.error_perm, match="^550"):
                client.storbinary("STOR new.txt", io.BytesIO(b"x"))
            with pytest.raises(ftplib.error_perm, match="^550"):
                client.delete("public.txt")
            client.quit()
        finally:
            client.close()

    async with serve(*arguments, cwd=tmp_path) as server:
        assert server.banner.endswith("(users: bob (read-only); anonymous: off)")
        await asyncio.wait_for(asyncio.to_thread(check, server.port), 20)
        status, stderr = await server.stop()
    assert status == 0, stderr
    assert sorted(p.name for p in root.iterdir()) == [".private", "public.txt"]


async def test_show_hidden_lists_dotfiles(tmp_path: Path) -> None:
    root = tmp_path / "served"
    root.mkdir()
    (root / ".profile").write_bytes(b"x")
    (root / "visible").write_bytes(b"y")

    def names(port: int) -> list[str]:
        client = connect_ftplib(port)
        try:
            return sorted(client.nlst())
        finally:
            client.close()

    async with serve("--root", str(root), "--port", "0", "--show-hidden", cwd=tmp_path) as server:
        assert await asyncio.wait_for(asyncio.to_thread(names, server.port), 20) == [".profile", "visible"]
        status, _ = await server.stop()
    assert status == 0


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("--root", "does/not/exist"), r"does/not/exist.*does not exist"),
        (("--user", "bob"), r"--user.*NAME:PASSWORD"),
        (("--user", ":nopassword"), r"--user.*NAME:PASSWORD"),
        (("--user", "bob:"), r"--user.*NAME:PASSWORD"),
        (("--port", "twenty-one"), r"--port.*port number"),
        (("--port", "70000"), r"--port.*port number"),
        (("--port", "-5"), r"--port"),
        (("--no-such-flag",), r"unrecognized arguments: --no-such-flag"),
    ],
    ids=["missing-root", "user-without-colon", "user-without-name", "user-without-password",
         "port-not-a-number", "port-too-large", "port-negative", "unknown-flag"],
)  # fmt: skip
async def test_bad_arguments_give_one_clear_line(
    tmp_path: Path, arguments: tuple[str, ...], expected: str
) -> None:
    status, stdout, stderr = await run_to_completion("serve", "--port", "0", *arguments, cwd=tmp_path)
    assert status != 0
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("aioftp-lite"), lines[0]
    assert re.search(expected, lines[0]), lines[0]
    assert not (tmp_path / "ftp-root").exists()  # nothing was created on the way out


async def test_port_in_use_gives_one_clear_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, stdout, stderr = await run_to_completion(
            "serve", "--root", str(tmp_path), "--port", str(port), cwd=tmp_path
        )
    assert status != 0
    assert stdout == ""
    assert stderr.splitlines() == [
        f"aioftp-lite: error: cannot listen on 127.0.0.1:{port}: address already in use"
    ]


async def test_no_command_gives_one_line(tmp_path: Path) -> None:
    status, stdout, stderr = await run_to_completion(cwd=tmp_path)
    assert status != 0
    assert stdout == ""
    assert len(stderr.splitlines()) == 1, stderr
