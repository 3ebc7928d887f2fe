"""The client's bugs of issue 16, each shown on a real server: batch mode in a subprocess,
or the Shell on the test's loop where a test must press Ctrl-C or answer a password prompt."""

from __future__ import annotations

import asyncio
import io
import os
import re
import socket
from pathlib import Path, PurePosixPath

import pytest

from aioftp_lite import LocalStorage, Server
from aioftp_lite.storage.base import FileReader
from client.shell import Shell
from client.target import parse_target
from tests.support.clients import PASSWORD, USER
from tests.support.files import sha
from tests.support.processes import run_client
from tests.support.storage import SlowReader


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


async def test_get_c_and_mget_c_start_missing_files_from_zero(
    server: Server, tree: Path, local: Path
) -> None:
    url = f"ftp://127.0.0.1:{server.port}"
    status, _, err = await run_client(url, "-c", "get -c docs/a.txt", cwd=local)
    assert (status, err) == (0, "")
    assert sha(local / "a.txt") == sha(tree / "docs" / "a.txt")
    # An interrupted mget -c: a.txt partly there, b.txt not at all.
    (local / "a.txt").write_bytes((tree / "docs" / "a.txt").read_bytes()[:12_345])
    status, out, err = await run_client(url, "-c", "mget -c docs/*.txt", cwd=local)
    assert (status, err) == (0, "")
    assert "resumed at 12.1 KiB" in out
    for name in ("a.txt", "b.txt"):
        assert sha(local / name) == sha(tree / "docs" / name)


async def test_unknown_options_are_refused_by_name(server: Server, tree: Path, local: Path) -> None:
    url = f"ftp://127.0.0.1:{server.port}"
    for command, option in (("get --bogus docs/a.txt", "--bogus"), ("lls -q", "-q"), ("mget -x docs/*", "-x"),
                            ("put -Z up.bin", "-Z")):  # fmt: skip
        status, _, err = await run_client(url, "-c", command, cwd=local)
        assert status == 1
        assert err.startswith(f"aioftp-lite-client: {command}: unknown option {option} (usage: ")
    assert list(local.iterdir()) == []
    # `--` ends the options: a name that starts with a dash.
    (local / "-dash.txt").write_bytes(b"dash\n")
    status, _, err = await run_client(url, "-c", "put -- -dash.txt", cwd=local)
    assert (status, err) == (0, "")
    assert (tree / "-dash.txt").read_bytes() == b"dash\n"


async def test_globs_in_folder_parts_and_mrm(server: Server, root: Path, local: Path) -> None:
    for relative in ("a dir/x/1.txt", "a dir/y/2.txt", "a dir/y/3.csv", "a dir/z.txt", "a dir/.h/4.txt"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(os.urandom(1000))
    url = f"ftp://127.0.0.1:{server.port}"
    status, out, err = await run_client(url, "-c", 'mget "a dir/*/*.txt"', cwd=local)
    assert (status, err) == (0, "") and "got 2 files:" in out
    assert sorted(path.name for path in local.iterdir()) == ["1.txt", "2.txt"]  # not .h/4.txt, not z.txt
    assert sha(local / "2.txt") == sha(root / "a dir/y/2.txt")
    status, _, err = await run_client(url, "-c", 'rm "a dir/*/*.csv"; mrm "a dir/?.txt"', cwd=local)
    assert (status, err) == (0, "")
    assert not (root / "a dir/y/3.csv").exists() and not (root / "a dir/z.txt").exists()
    assert (root / "a dir/x/1.txt").exists() and (root / "a dir/y/2.txt").exists()
    status, _, err = await run_client(url, "-c", 'mdelete "a dir/*/*.csv"', cwd=local)
    assert status == 1 and err.endswith("no remote file matches 'a dir/*/*.csv'\n")


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
async def test_a_bare_ipv6_address_with_a_port(root: Path, local: Path) -> None:
    (root / "six.txt").write_bytes(b"over IPv6\n")
    async with Server(root=root, host="::1", port=0) as server:
        status, out, err = await run_client(
            "::1", "-p", str(server.port), "-c", "get six.txt; pwd", cwd=local
        )
    assert (status, err) == (0, "")
    assert (local / "six.txt").read_bytes() == b"over IPv6\n"
    assert out.splitlines()[-1] == "/"


async def test_a_bare_open_retries_the_last_server_tried(server: Server, tree: Path, local: Path) -> None:
    asked: list[str] = []

    async def ask(message: str) -> str:
        asked.append(message)
        return PASSWORD

    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err, local_dir=local, timeout=10, ask_password=ask)
    shell.prefetch = False
    try:
        # A refused password: a bare `open` tries the same server again and asks for the password.
        assert not await shell.execute(f"open ftp://{USER}:wrong@127.0.0.1:{server.port}/docs")
        assert " 530 " in err.getvalue()
        assert await shell.execute("open")
        assert asked == [f"Password for {USER}@127.0.0.1:{server.port}: "]
        assert shell.remote_cwd == "/docs"
        # A later open that fails: a bare `open` goes there again, not back to the older server.
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            dead_port = unused.getsockname()[1]
        assert not await shell.execute(
            f"open ftp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{dead_port}"
        )
        assert not await shell.execute("open")
        lines = err.getvalue().splitlines()
        assert len(lines) == 3 and f"127.0.0.1:{dead_port}" in lines[-1] and shell.client is None
    finally:
        await shell.close()


class SlowDownloads(LocalStorage):
    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        return SlowReader(await super().open_read(path, offset))


async def test_ctrl_c_in_mget_names_the_file_and_mget_c(root: Path, local: Path) -> None:
    (root / "one.bin").write_bytes(os.urandom(300_000))
    (root / "two.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    factory = lambda account: SlowDownloads(account.home, chunk_size=64 * 1024)
    async with Server(root=root, host="127.0.0.1", port=0, storage_factory=factory) as server:
        out, err = io.StringIO(), io.StringIO()
        shell = Shell(out=out, err=err, local_dir=local, timeout=10)
        shell.prefetch = False
        try:
            await shell.open(parse_target(f"127.0.0.1:{server.port}"))
            task = asyncio.create_task(shell.execute("mget *.bin"))
            partial = local / "two.bin"
            async with asyncio.timeout(10):
                while not (partial.exists() and partial.stat().st_size > 0):
                    await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert re.fullmatch(
                r"mget \*\.bin: two\.bin interrupted at [\d.]+ (KiB|MiB) of 2\.0 MiB \(transfer aborted\); "
                r"`mget -c '\*\.bin'` resumes\n",
                err.getvalue(),
            )
            assert await shell.execute("mget -c '*.bin'")
        finally:
            await shell.close()
    for name in ("one.bin", "two.bin"):
        assert sha(local / name) == sha(root / name)


async def test_put_into_an_existing_folder(server: Server, tree: Path, local: Path) -> None:
    (local / "up.bin").write_bytes(os.urandom(10_000))
    url = f"ftp://127.0.0.1:{server.port}"
    status, _, err = await run_client(
        url, "-c", "put up.bin /docs; mkdir sub; cd docs; put up.bin ../sub", cwd=local
    )
    assert (status, err) == (0, "")
    assert sha(tree / "docs" / "up.bin") == sha(local / "up.bin")
    assert sha(tree / "sub" / "up.bin") == sha(local / "up.bin")


def _port_21_is_free() -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", 21)) != 0


@pytest.mark.skipif(not _port_21_is_free(), reason="something listens on port 21 here")
async def test_nothing_on_port_21_names_the_port_and_2121(local: Path) -> None:
    status, _, err = await run_client("127.0.0.1", "-c", "ls", cwd=local)
    assert status == 1 and err.count("\n") == 1
    assert "Could not connect to 127.0.0.1:21" in err and "2121" in err
