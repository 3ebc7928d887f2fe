"""A server on an S3 bucket (the session's SeaweedFS), driven by ftplib, curl and lftp.

Each test serves a fresh prefix of the bucket and checks, besides the FTP replies, the
objects themselves through a separate S3 client: what the server wrote, and that no
object or multipart upload is left outside what the client asked for.
"""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioftp_lite import Server
from benchmarks.s3_listing import object_names
from benchmarks.s3_listing import seed as seed_objects
from benchmarks.seaweedfs import SeaweedFS
from tests.support.clients import ACCOUNTS, PASSWORD, USER, connect_ftplib
from tests.support.files import TREE, checksums, fill, folders, payload
from tests.support.s3 import s3_settings
from tests.support.threads import in_thread
from tests.support.tools import CURL, LFTP, curl, lftp

MiB = 1024 * 1024
PART = 5 * MiB  # the smallest part S3 allows: big uploads take several parts quickly


@pytest.fixture
async def s3_server(seaweedfs: SeaweedFS, s3_client: object) -> AsyncIterator[Server]:
    settings = s3_settings(seaweedfs, s3_part_size=PART, s3_timeout=3.0)
    async with Server(host="127.0.0.1", port=0, accounts=ACCOUNTS, anonymous="write", **settings) as server:
        yield server


def prefix_of(server: Server) -> str:
    return server.config.s3_prefix + "/"


async def objects(s3_client: object, server: Server) -> dict[str, bytes]:
    """Every object under the server's prefix, by key relative to it, with its content."""
    prefix = prefix_of(server)
    page = await s3_client.list_page(prefix)  # type: ignore[attr-defined]
    out = {}
    for item in page.get("Contents", ()):
        key = item["Key"]
        out[key[len(prefix) :]] = (
            await s3_client.get_range(key, 0, item["Size"] - 1) if item["Size"] else b""  # type: ignore[attr-defined]
        )
    return out


def ftp(server: Server) -> ftplib.FTP:
    return connect_ftplib(server.port, USER, PASSWORD)


def store(client: ftplib.FTP, name: str, data: bytes, command: str = "STOR") -> str:
    return client.storbinary(f"{command} {name}", io.BytesIO(data))


def fetch(client: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {name}", out.write, rest=rest)
    return out.getvalue()


def reply_code(error: ftplib.Error) -> int:
    return int(str(error)[:3])


# --- files and folders over FTP ---------------------------------------------------------------


async def test_store_list_fetch_with_checksums(s3_server: Server, s3_client: object) -> None:
    small, big = payload(1000, 1), payload(2 * PART + 123, 2)  # one PUT; a three-part upload

    def session() -> None:
        with ftp(s3_server) as client:
            client.mkd("docs")
            store(client, "docs/small.bin", small)
            store(client, "docs/big.bin", big)
            store(client, ".hidden", b"dot")
            assert fetch(client, "docs/big.bin") == big
            assert fetch(client, "docs/small.bin") == small
            assert fetch(client, "docs/big.bin", rest=PART + 5) == big[PART + 5 :]  # ranged GET
            assert sorted(client.nlst("docs")) == ["big.bin", "small.bin"]
            assert client.nlst() == ["docs"]  # dotfiles hidden, as on local storage
            facts = dict(client.mlsd("docs"))
            assert facts["big.bin"]["size"] == str(len(big)) and facts["big.bin"]["type"] == "file"
            assert client.size("docs/big.bin") == len(big)
            assert client.sendcmd("MDTM docs/small.bin").startswith("213 ")
            lines: list[str] = []
            client.retrlines("LIST docs", lines.append)
            assert len(lines) == 2 and all(line.split()[-1] in ("big.bin", "small.bin") for line in lines)

    await in_thread(session)
    stored = await objects(s3_client, s3_server)
    assert set(stored) == {"docs/", "docs/small.bin", "docs/big.bin", ".hidden"}
    assert hashlib.sha256(stored["docs/big.bin"]).digest() == hashlib.sha256(big).digest()
    assert await s3_client.uploads_in_progress(prefix_of(s3_server)) == []  # type: ignore[attr-defined]


async def test_folders_are_prefixes(s3_server: Server, s3_client: object) -> None:
    # An object written by another S3 client makes its folders exist, without markers.
    await s3_client.put(prefix_of(s3_server) + "made/elsewhere/f.txt", b"x")  # type: ignore[attr-defined]

    def session() -> None:
        with ftp(s3_server) as client:
            client.cwd("made/elsewhere")
            assert client.pwd() == "/made/elsewhere"
            assert fetch(client, "f.txt") == b"x"
            client.cwd("/")
            client.mkd("empty")
            assert "empty" in client.nlst()
            with pytest.raises(ftplib.error_perm, match="550.*not empty"):
                client.rmd("made/elsewhere")
            client.delete("made/elsewhere/f.txt")
            client.rmd("empty")
            with pytest.raises(ftplib.error_perm, match="550"):
                client.cwd("empty")
            with pytest.raises(ftplib.error_perm, match="550"):
                client.mkd("no/such/parent")

    await in_thread(session)
    assert await objects(s3_client, s3_server) == {}


async def test_rename_file_copies_and_folder_is_refused(s3_server: Server, s3_client: object) -> None:
    def session() -> None:
        with ftp(s3_server) as client:
            client.mkd("a")
            store(client, "a/f.bin", payload(3000, 3))
            client.rename("a/f.bin", "g.bin")
            with pytest.raises(ftplib.error_perm, match="550 Folders cannot be renamed on object storage"):
                client.rename("a", "b")

    await in_thread(session)
    assert await objects(s3_client, s3_server) == {"a/": b"", "g.bin": payload(3000, 3)}


async def test_append_and_resumed_upload_are_honest(s3_server: Server, s3_client: object) -> None:
    head = payload(PART + 10, 4)  # large enough to be copied server-side as a part

    def session() -> None:
        with ftp(s3_server) as client:
            store(client, "log", b"first\n")
            store(client, "log", b"second\n", "APPE")
            assert fetch(client, "log") == b"first\nsecond\n"
            store(client, "big", head)
            store(client, "big", b"tail", "APPE")  # UploadPartCopy of the old object
            assert fetch(client, "big") == head + b"tail"
            client.storbinary("STOR big", io.BytesIO(b"NEW"), rest=PART)  # REST + STOR
            assert fetch(client, "big") == head[:PART] + b"NEW"

    await in_thread(session)
    assert await s3_client.uploads_in_progress(prefix_of(s3_server)) == []  # type: ignore[attr-defined]


async def test_feat_does_not_offer_what_the_bucket_cannot_do(s3_server: Server) -> None:
    def session() -> tuple[str, str]:
        with ftp(s3_server) as client:
            store(client, "f", b"x")
            try:
                client.sendcmd("MFMT 20200101000000 f")
            except ftplib.error_perm as error:
                return client.sendcmd("FEAT"), str(error)
            return client.sendcmd("FEAT"), ""

    features, mfmt = await in_thread(session)
    assert "MFMT" not in features and "REST STREAM" in features and "SIZE" in features
    assert mfmt.startswith("502")


async def test_paths_never_leave_the_prefix(s3_server: Server, s3_client: object) -> None:
    outside = s3_server.config.s3_prefix + "-sibling/secret.txt"  # shares the prefix's first letters
    await s3_client.put(outside, b"secret")  # type: ignore[attr-defined]
    sibling = s3_server.config.s3_prefix + "-sibling"

    def session() -> None:
        with ftp(s3_server) as client:
            for path in (f"../{sibling}/secret.txt", f"/../../{sibling}/secret.txt", "../../secret.txt"):
                with pytest.raises(ftplib.error_perm, match="550"):
                    fetch(client, path)
            assert client.nlst("/..") == []

    await in_thread(session)
    assert await s3_client.get_range(outside, 0, 5) == b"secret"  # type: ignore[attr-defined]


# --- uploads appear whole or not at all ---------------------------------------------------------


async def test_interrupted_upload_leaves_the_old_object_and_no_upload(
    s3_server: Server, s3_client: object
) -> None:
    old = payload(4000, 5)

    def session() -> None:
        with ftp(s3_server) as client:
            store(client, "f.bin", old)
            data = client.transfercmd("STOR f.bin")
            data.sendall(payload(3 * PART, 6))  # parts sent, more on the way
            client.putcmd("ABOR")
            replies = [client.getmultiline()[:3] for _ in range(2)]  # 426 for the transfer, 226 for ABOR
            assert replies == ["426", "226"], replies
            data.close()
            assert fetch(client, "f.bin") == old

    await in_thread(session, timeout=60)
    assert await objects(s3_client, s3_server) == {"f.bin": old}
    assert await s3_client.uploads_in_progress(prefix_of(s3_server)) == []  # type: ignore[attr-defined]


async def test_upload_is_invisible_until_complete(s3_server: Server, s3_client: object) -> None:
    def start() -> tuple[ftplib.FTP, object]:
        client = ftp(s3_server)
        client.voidcmd("TYPE I")
        data = client.transfercmd("STOR new.bin")
        data.sendall(payload(2 * PART + 1, 7))
        return client, data

    client, data = await in_thread(start)
    await asyncio.sleep(0.5)  # the server has sent parts by now
    assert "new.bin" not in await objects(s3_client, s3_server)
    assert await s3_client.uploads_in_progress(prefix_of(s3_server)) != []  # type: ignore[attr-defined]

    def finish() -> str:
        data.close()  # type: ignore[attr-defined]
        reply = client.voidresp()
        client.quit()
        return reply

    assert (await in_thread(finish)).startswith("226")
    assert (await objects(s3_client, s3_server))["new.bin"] == payload(2 * PART + 1, 7)


# --- the store failing during a session -----------------------------------------------------------


async def test_store_outage_gives_451_then_recovers(s3_server: Server, seaweedfs: SeaweedFS) -> None:
    """A stopped store (SIGSTOP: connections hang) and a dead one (connections refused)."""
    client = await in_thread(lambda: ftp(s3_server))
    try:
        await in_thread(lambda: store(client, "before.txt", b"kept"))
        seaweedfs.pause()
        try:
            with pytest.raises(ftplib.error_temp, match="451 Object store") as hung:
                await in_thread(lambda: client.nlst())
        finally:
            seaweedfs.resume()
        assert "Traceback" not in str(hung.value)
        assert await in_thread(lambda: fetch(client, "before.txt")) == b"kept"
        seaweedfs.stop()
        try:
            with pytest.raises(ftplib.error_temp, match="451 Object store"):
                await in_thread(lambda: store(client, "during.txt", b"lost"))
            with pytest.raises(ftplib.error_temp, match="451 Object store"):
                await in_thread(lambda: client.size("before.txt"))
        finally:
            seaweedfs.start()
        # Back within seconds: the store's first answers after its start may still be 5xx.
        for _attempt in range(50):
            try:
                assert await in_thread(lambda: fetch(client, "before.txt")) == b"kept"
                break
            except ftplib.error_temp:
                await asyncio.sleep(0.2)
        else:
            raise AssertionError("the server did not recover after the store came back")
        await in_thread(lambda: store(client, "after.txt", b"new"))
    finally:
        await in_thread(client.close)


# --- third-party clients ------------------------------------------------------------------------


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
async def test_curl_get_put_and_resume(s3_server: Server, tmp_path: Path) -> None:
    data = payload(PART + 4321, 8)
    local = tmp_path / "up.bin"
    local.write_bytes(data)
    base = f"ftp://127.0.0.1:{s3_server.port}"
    await curl("-T", str(local), f"{base}/up.bin")
    await curl("-o", str(tmp_path / "down.bin"), f"{base}/up.bin")
    assert (tmp_path / "down.bin").read_bytes() == data
    # Resume a download and an upload from what is already there.
    (tmp_path / "part.bin").write_bytes(data[:1000])
    await curl("-C", "-", "-o", str(tmp_path / "part.bin"), f"{base}/up.bin")
    assert hashlib.sha256((tmp_path / "part.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    (tmp_path / "head.bin").write_bytes(data[:2000])
    await curl("-T", str(tmp_path / "head.bin"), f"{base}/resumed.bin")
    await curl("-C", "-", "-T", str(local), f"{base}/resumed.bin")
    await curl("-o", str(tmp_path / "resumed.bin"), f"{base}/resumed.bin")
    assert (tmp_path / "resumed.bin").read_bytes() == data


@pytest.mark.skipif(LFTP is None, reason="lftp is not installed")
async def test_lftp_mirror_down_and_up(s3_server: Server, tmp_path: Path) -> None:
    source = tmp_path / "source"
    for relative, size in TREE.items():
        fill(source / relative, size)
    (source / "data" / "empty folder").mkdir()
    home = tmp_path / "home"
    home.mkdir()
    await lftp(s3_server.port, f"mirror -R {source} tree", home)
    await lftp(s3_server.port, "mirror tree copy", home)
    assert checksums(home / "copy") == checksums(source)
    assert folders(home / "copy") == folders(source)


async def test_a_folder_of_several_listing_pages_lists_completely(
    s3_server: Server, seaweedfs: SeaweedFS
) -> None:
    # 2,500 objects are three ListObjectsV2 pages: every one is listed, once, in order.
    # (100,000 objects, with the server's memory sampled: `python -m benchmarks.s3_listing`.)
    count = 2_500
    filer = f"http://127.0.0.1:{seaweedfs.filer_port}"
    await seed_objects(seaweedfs.endpoint, count, filer, f"{s3_server.config.s3_prefix}/many")

    def session() -> tuple[list[str], list[str]]:
        with ftp(s3_server) as client:
            return client.nlst("many"), [name for name, _facts in client.mlsd("many")]

    names, facts = await in_thread(session)
    assert names == object_names(count) and sorted(facts) == object_names(count)


# --- many clients at once -----------------------------------------------------------------------


@pytest.fixture
async def busy_s3_server(seaweedfs: SeaweedFS, s3_client: object) -> AsyncIterator[Server]:
    """The store's default request timeout: with 100 clients and the store on the same two
    cores, a request can queue for seconds without anything being wrong."""
    settings = s3_settings(seaweedfs, s3_part_size=PART)
    async with Server(host="127.0.0.1", port=0, accounts=ACCOUNTS, **settings) as server:
        yield server


async def test_100_concurrent_clients_with_sha256(busy_s3_server: Server) -> None:
    clients, s3_server = 100, busy_s3_server

    def one(index: int) -> tuple[str, str, str]:
        data = os.urandom(20_000 + index * 97)
        with connect_ftplib(s3_server.port, USER, PASSWORD, timeout=60) as client:
            store(client, f"c{index}.bin", data)
            back = fetch(client, f"c{index}.bin")
        return hashlib.sha256(data).hexdigest(), hashlib.sha256(back).hexdigest(), f"c{index}.bin"

    loop = asyncio.get_running_loop()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(clients) as pool:
        results = await asyncio.wait_for(
            asyncio.gather(*(loop.run_in_executor(pool, one, index) for index in range(clients))), 120
        )
    assert all(sent == received for sent, received, _name in results)

    def names() -> list[str]:
        with ftp(s3_server) as client:
            return client.nlst()

    listing = await in_thread(names)
    assert sorted(listing) == sorted(name for _s, _r, name in results)
