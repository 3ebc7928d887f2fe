"""curl as an independent client: download, upload, listings, resume both ways.

curl runs as a subprocess (`asyncio.create_subprocess_exec`) so the server task keeps
running on the test's event loop; every run is bounded by a timeout. Assertions are made
on real files: sha256 of what curl wrote locally and of what the server stored on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from aioftp_lite import Server
from tests.support.clients import PASSWORD, USER
from tests.support.files import payload
from tests.support.tools import CURL, curl

pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")

# Anonymous and a named user take the same paths through curl; both must work.
ACCOUNTS = [pytest.param(None, id="anonymous"), pytest.param(f"{USER}:{PASSWORD}", id="named-user")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def url(server: Server, path: str = "") -> str:
    return f"ftp://127.0.0.1:{server.port}/{quote(path)}"


@pytest.mark.parametrize("user", ACCOUNTS)
async def test_download_matches_the_file_on_disk(server: Server, root: Path, tmp_path: Path,
                                                 user: str | None) -> None:  # fmt: skip
    (root / "pub").mkdir()
    source = root / "pub" / "data.bin"
    source.write_bytes(payload(3 * 1024 * 1024 + 17, seed=1))
    local = tmp_path / "downloaded.bin"

    await curl("--output", str(local), url(server, "pub/data.bin"), user=user)

    assert local.stat().st_size == source.stat().st_size
    assert sha256(local) == sha256(source)


@pytest.mark.parametrize("user", ACCOUNTS)
async def test_upload_lands_on_disk_intact(server: Server, root: Path, tmp_path: Path,
                                           user: str | None) -> None:  # fmt: skip
    local = tmp_path / "upload.bin"
    local.write_bytes(payload(2 * 1024 * 1024 + 5, seed=2))
    (root / "incoming").mkdir()

    await curl("--upload-file", str(local), url(server, "incoming/stored.bin"), user=user)

    stored = root / "incoming" / "stored.bin"
    assert sha256(stored) == sha256(local)
    # Atomic upload: nothing but the final file is left in the folder.
    assert sorted(os.listdir(root / "incoming")) == ["stored.bin"]


async def test_upload_replaces_an_existing_file(server: Server, root: Path, tmp_path: Path) -> None:
    (root / "report.txt").write_bytes(b"old content that is longer than the new one\n" * 100)
    local = tmp_path / "report.txt"
    local.write_bytes(b"new\n")

    await curl("--upload-file", str(local), url(server, "report.txt"))

    assert (root / "report.txt").read_bytes() == b"new\n"


async def test_name_with_space_and_non_ascii_round_trip(server: Server, root: Path, tmp_path: Path) -> None:
    name = "résumé de l'été ü.bin"
    content = payload(100_000, seed=3)
    local = tmp_path / "local.bin"
    local.write_bytes(content)

    await curl("--upload-file", str(local), url(server, name), user=f"{USER}:{PASSWORD}")
    assert (root / name).read_bytes() == content

    back = tmp_path / "back.bin"
    await curl("--output", str(back), url(server, name), user=f"{USER}:{PASSWORD}")
    assert back.read_bytes() == content


@pytest.mark.parametrize("user", ACCOUNTS)
async def test_listing_of_a_folder(server: Server, root: Path, user: str | None) -> None:
    folder = root / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"x" * 1234)
    (folder / "b c.txt").write_bytes(b"")
    (folder / "sub").mkdir()
    (folder / ".hidden").write_bytes(b"secret")

    long_listing = await curl(url(server, "docs/"), user=user)
    lines = [line for line in long_listing.splitlines() if line]
    by_name = {line.split(None, 8)[8]: line for line in lines}
    assert set(by_name) == {"a.txt", "b c.txt", "sub"}
    assert by_name["a.txt"].startswith("-") and by_name["a.txt"].split()[4] == "1234"
    assert by_name["sub"].startswith("d")

    names = await curl("--list-only", url(server, "docs/"), user=user)
    assert sorted(names.split("\r\n" if "\r\n" in names else "\n")[:-1]) == ["a.txt", "b c.txt", "sub"]


async def test_resume_download_of_a_partial_local_file(server: Server, root: Path, tmp_path: Path) -> None:
    content = payload(5 * 1024 * 1024 + 333, seed=4)
    (root / "big.bin").write_bytes(content)
    local = tmp_path / "big.bin"
    local.write_bytes(content[: 2 * 1024 * 1024 + 1])  # as if an earlier download broke off

    await curl("--continue-at", "-", "--output", str(local), url(server, "big.bin"))

    assert local.stat().st_size == len(content)
    assert sha256(local) == hashlib.sha256(content).hexdigest() == sha256(root / "big.bin")


@pytest.mark.parametrize("user", ACCOUNTS)
async def test_resume_upload_of_a_partial_remote_file(server: Server, root: Path, tmp_path: Path,
                                                      user: str | None) -> None:  # fmt: skip
    content = payload(4 * 1024 * 1024 + 99, seed=5)
    local = tmp_path / "upload.bin"
    local.write_bytes(content)
    (root / "upload.bin").write_bytes(content[: 1024 * 1024 + 7])  # an upload that broke off

    # curl asks SIZE, then sends only the rest (APPE).
    await curl("--continue-at", "-", "--upload-file", str(local), url(server, "upload.bin"), user=user)

    assert (root / "upload.bin").stat().st_size == len(content)
    assert sha256(root / "upload.bin") == sha256(local)


async def test_active_mode_download_and_upload(server: Server, root: Path, tmp_path: Path) -> None:
    """`--ftp-port` makes curl listen and the server connect back (EPRT/PORT)."""
    content = payload(1024 * 1024 + 1, seed=6)
    (root / "active.bin").write_bytes(content)
    local = tmp_path / "active.bin"

    await curl("--ftp-port", "127.0.0.1", "--output", str(local), url(server, "active.bin"))
    assert sha256(local) == sha256(root / "active.bin")

    await curl("--ftp-port", "127.0.0.1", "--upload-file", str(local), url(server, "active-up.bin"))
    assert sha256(root / "active-up.bin") == hashlib.sha256(content).hexdigest()


async def test_missing_file_is_an_error_and_creates_nothing(
    server: Server, root: Path, tmp_path: Path
) -> None:
    assert CURL is not None
    local = tmp_path / "nothing.bin"
    process = await asyncio.create_subprocess_exec(
        CURL, "-q", "--silent", "--noproxy", "*", "--max-time", "20", "--output", str(local),
        url(server, "no/such/file.bin"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    returncode = await asyncio.wait_for(process.wait(), 25)
    # 9: "FTP access denied" (CWD no/such refused with 550), 78: "remote file not found".
    assert returncode in (9, 78), returncode
    assert not local.exists()
