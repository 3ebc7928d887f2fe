"""FTPClient against our Server over real sockets on 127.0.0.1 (scripted peers: test_ftpclient_peers.py)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioftp_lite import FTPClient, FTPConnectionLost, FTPReplyError, Server
from tests.support.clients import PASSWORD, USER, cancel_at_first_progress

TIMEOUT = 10.0  # every network wait in the client is bounded by this


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[FTPClient]:
    async with FTPClient("127.0.0.1", server.port, timeout=TIMEOUT, user=USER, password=PASSWORD) as ftp:
        yield ftp


async def test_login_pwd_cwd_cdup(server: Server, root: Path) -> None:
    (root / "docs" / "2024").mkdir(parents=True)
    ftp = FTPClient("127.0.0.1", server.port, timeout=TIMEOUT)
    assert not ftp.connected
    greeting = await ftp.connect()
    assert greeting.code == 220 and ftp.connected
    await ftp.login()  # anonymous by default
    assert ftp.user == "anonymous" and "UTF8" in ftp.features and not ftp.busy
    assert await ftp.pwd() == "/"
    await ftp.cwd("docs/2024")
    assert await ftp.pwd() == "/docs/2024"
    await ftp.cdup()
    assert await ftp.pwd() == "/docs"
    await ftp.quit()
    assert not ftp.connected

    with pytest.raises(FTPReplyError) as refused:
        async with FTPClient("127.0.0.1", server.port, timeout=TIMEOUT, user=USER, password="wrong"):
            pass
    assert refused.value.reply.code == 530
    async with FTPClient("127.0.0.1", server.port, timeout=TIMEOUT, user=USER, password=PASSWORD) as ftp:
        assert ftp.user == USER and await ftp.pwd() == "/"


async def test_list_by_mlsd_and_by_parsed_list_agree(client: FTPClient, root: Path) -> None:
    names = ["plain.txt", "with  two spaces.bin", "été ü.txt", "日本語"]
    for index, name in enumerate(names):
        (root / name).write_bytes(payload(100 * index + 1, seed=index))
    (root / "a folder").mkdir()
    (root / "a folder" / "inner.txt").write_bytes(b"x")

    by_mlsd = {e.name: e for e in await client.list()}
    client.use_mlsd = False
    by_list = {e.name: e for e in await client.list()}
    assert set(by_mlsd) == set(by_list) == {*names, "a folder"}
    for name in names:
        on_disk = (root / name).stat()
        for entry in (by_mlsd[name], by_list[name]):
            assert not entry.is_dir and entry.size == on_disk.st_size
            assert entry.mtime is not None and abs(entry.mtime - on_disk.st_mtime) < 61  # LIST: minutes
    assert by_mlsd["a folder"].is_dir and by_list["a folder"].is_dir
    assert by_mlsd["plain.txt"].facts["type"] == "file"
    assert by_list["plain.txt"].facts["type"] == "file"
    assert [e.name for e in await client.list("a folder")] == ["inner.txt"]
    assert sorted(await client.names()) == sorted([*names, "a folder"])


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
async def test_upload_and_download_with_progress(client: FTPClient, root: Path, tmp_path: Path,
                                                 passive: bool) -> None:  # fmt: skip
    client.passive = passive
    data = payload(3 * 1024 * 1024 + 17)
    local = tmp_path / "source.bin"
    local.write_bytes(data)
    sent_progress: list[int] = []
    with local.open("rb") as source:
        sent = await client.upload(source, "remote copy.bin", progress=sent_progress.append)
    assert sent == len(data) and sha256((root / "remote copy.bin").read_bytes()) == sha256(data)
    assert sent_progress == sorted(sent_progress) and sent_progress[-1] == len(data)

    received_progress: list[int] = []
    target = tmp_path / "back.bin"
    with target.open("wb") as sink:
        received = await client.download("remote copy.bin", sink, progress=received_progress.append)
    assert received == len(data) and sha256(target.read_bytes()) == sha256(data)
    assert received_progress == sorted(received_progress) and received_progress[-1] == len(data)
    assert await client.size("remote copy.bin") == len(data)


async def test_resume_download_and_upload(client: FTPClient, root: Path, tmp_path: Path) -> None:
    data = payload(1024 * 1024 + 5)
    half = 400_000
    (root / "full.bin").write_bytes(data)

    partial = tmp_path / "partial.bin"
    partial.write_bytes(data[:half])
    progress: list[int] = []
    with partial.open("r+b") as sink:
        received = await client.download("full.bin", sink, offset=half, progress=progress.append)
    assert received == len(data) - half and progress[0] > half and progress[-1] == len(data)
    assert sha256(partial.read_bytes()) == sha256(data)

    (root / "resumed.bin").write_bytes(data[:half])  # an upload cut short earlier
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    with local.open("rb") as source:
        sent = await client.upload(source, "resumed.bin", offset=half)
    assert sent == len(data) - half and sha256((root / "resumed.bin").read_bytes()) == sha256(data)

    (root / "appended.bin").write_bytes(data[:half])
    with local.open("rb") as source:
        await client.upload(source, "appended.bin", offset=half, append=True)
    assert sha256((root / "appended.bin").read_bytes()) == sha256(data)


async def test_file_commands(client: FTPClient, root: Path) -> None:
    assert await client.mkdir("new dir") == "/new dir"
    assert (root / "new dir").is_dir()
    (root / "new dir" / "a.txt").write_bytes(b"12345")
    assert await client.size("new dir/a.txt") == 5
    assert abs(await client.mtime("new dir/a.txt") - (root / "new dir" / "a.txt").stat().st_mtime) < 1.01
    await client.rename("new dir/a.txt", "b é.txt")
    assert (root / "b é.txt").read_bytes() == b"12345" and not (root / "new dir" / "a.txt").exists()
    await client.delete("b é.txt")
    assert not (root / "b é.txt").exists()
    await client.rmdir("new dir")
    assert not (root / "new dir").exists()


async def test_errors_carry_the_servers_reply(client: FTPClient, tmp_path: Path) -> None:
    with (tmp_path / "never.bin").open("wb") as sink, pytest.raises(FTPReplyError) as missing:
        await client.download("missing.bin", sink)
    assert missing.value.reply.code == 550 and str(missing.value).startswith("550 ")
    assert "No such file" in missing.value.reply.text
    for failing in (client.cwd("nowhere"), client.size("missing"), client.delete("missing"),
                    client.list("nowhere"), client.rename("missing", "other")):  # fmt: skip
        with pytest.raises(FTPReplyError) as error:
            await failing
        assert error.value.reply.code == 550
    with pytest.raises(FTPReplyError) as unknown:
        await client.command("XYZZY")
    assert unknown.value.reply.code in (500, 502)
    assert (await client.command("NOOP")).code == 200
    help_reply = await client.command("HELP")  # multi-line
    assert help_reply.code == 214 and len(help_reply.lines) > 3
    with pytest.raises(ValueError):
        await client.cwd("a\r\nDELE x")  # never a second command smuggled in
    assert await client.pwd() == "/"


def commands_sent(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" >>> ")[1] for r in caplog.records if " >>> " in r.getMessage()]


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
async def test_cancelled_download_aborts_and_connection_stays_usable(
    client: FTPClient, root: Path, tmp_path: Path, passive: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aioftp_lite.client")
    client.passive = passive
    data = payload(24 * 1024 * 1024)
    (root / "big.bin").write_bytes(data)
    partial = tmp_path / "partial.bin"
    with partial.open("wb") as sink:
        position = await cancel_at_first_progress(
            lambda progress: client.download("big.bin", sink, progress=progress)
        )
    assert 0 < position < len(data)
    assert data.startswith(partial.read_bytes())
    assert client.connected and not client.busy
    # ABOR went out at once (not left for later), followed by the NOOP that re-synchronises.
    assert commands_sent(caplog)[-3:] == ["RETR big.bin", "ABOR", "NOOP"]
    assert await client.pwd() == "/"  # replies are in step: this is PWD's own 257
    complete = tmp_path / "complete.bin"
    with complete.open("wb") as sink:
        await client.download("big.bin", sink)
    assert sha256(complete.read_bytes()) == sha256(data)


async def test_cancelled_upload_leaves_no_file_and_connection_usable(
    client: FTPClient, root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aioftp_lite.client")
    data = payload(24 * 1024 * 1024, seed=2)
    local = tmp_path / "up.bin"
    local.write_bytes(data)
    with local.open("rb") as source:
        await cancel_at_first_progress(lambda progress: client.upload(source, "up.bin", progress=progress))
    assert commands_sent(caplog)[-3:] == ["STOR up.bin", "ABOR", "NOOP"]
    assert await client.pwd() == "/"
    assert "up.bin" not in await client.names()  # our server commits uploads only when complete
    with local.open("rb") as source:
        await client.upload(source, "up.bin")
    assert sha256((root / "up.bin").read_bytes()) == sha256(data)


async def test_lock_keeps_a_background_lister_out_of_a_transfer(client: FTPClient, root: Path,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    data = payload(8 * 1024 * 1024, seed=3)
    (root / "big.bin").write_bytes(data)
    events: list[str] = []
    started = asyncio.Event()

    def progress(_position: int) -> None:
        assert client.busy
        started.set()

    async def background_lister() -> list[str]:
        await started.wait()
        async with client.lock:  # re-entrant: the client's own methods take it again
            events.append("listing")
            return [entry.name for entry in await client.list()]

    async def transfer() -> None:
        with (tmp_path / "big.bin").open("wb") as sink:
            await client.download("big.bin", sink, progress=progress)
        events.append("download done")

    lister = asyncio.create_task(background_lister())
    await asyncio.wait_for(transfer(), 30)
    assert await asyncio.wait_for(lister, 30) == ["big.bin"]
    assert events == ["download done", "listing"]
    assert sha256((tmp_path / "big.bin").read_bytes()) == sha256(data)


async def test_server_going_away_is_one_clear_error(root: Path) -> None:
    async with Server(root=root, host="127.0.0.1", port=0) as server:
        ftp = FTPClient("127.0.0.1", server.port, timeout=TIMEOUT)
        await ftp.connect()
        await ftp.login()
    # The server shut down and said 421 on its way out.
    with pytest.raises(FTPConnectionLost) as lost:
        await ftp.pwd()
    assert "lost" in str(lost.value) and not ftp.connected
    with pytest.raises(FTPConnectionLost):
        await ftp.list()
    await ftp.close()  # never raises
    await ftp.quit()
    with pytest.raises(FTPConnectionLost, match="Could not connect"):
        await ftp.connect()


def _ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback_works(), reason="no IPv6 loopback (::1) on this machine")
@pytest.mark.parametrize("passive", [True, False], ids=["EPSV", "EPRT"])
async def test_ipv6_transfers(root: Path, passive: bool) -> None:
    data = payload(200_000, seed=4)
    (root / "six.bin").write_bytes(data)
    async with (
        Server(root=root, host="::1", port=0) as server,
        FTPClient("::1", server.port, timeout=TIMEOUT, passive=passive) as ftp,
    ):
        sink = io.BytesIO()
        await ftp.download("six.bin", sink)
        assert sha256(sink.getvalue()) == sha256(data)
        await ftp.upload(io.BytesIO(data), "back.bin")
    assert sha256((root / "back.bin").read_bytes()) == sha256(data)


async def test_reconnect_after_close(server: Server) -> None:
    ftp = FTPClient("127.0.0.1", server.port, timeout=TIMEOUT)
    for _ in range(2):
        await ftp.connect()
        await ftp.login()
        assert await ftp.pwd() == "/"
        await ftp.close()
        assert not ftp.connected
