"""lftp as an independent client: `mirror` a tree down and `mirror -R` it up again.

The tree has nested folders, files of several sizes (empty to a few MiB), and names with
spaces and non-ASCII letters; every file's sha256 is compared in both directions.
lftp runs as a subprocess with a timeout, so the server task keeps running meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
from pathlib import Path

import pytest

from aioftp_lite import Server

from .conftest import PASSWORD, USER

LFTP = shutil.which("lftp")
pytestmark = pytest.mark.skipif(LFTP is None, reason="lftp is not installed (apt-get install lftp)")

LFTP_TIMEOUT = 60.0

# relative path -> size in bytes
TREE = {
    "readme.txt": 120,
    "empty.dat": 0,
    "data/one chunk.bin": 256 * 1024,
    "data/odd size.bin": 1024 * 1024 + 7,
    "data/nested/deeper/big.bin": 3 * 1024 * 1024 + 1,
    "data/nested/small.txt": 5,
    "été/ünïcödé ✓ file.txt": 4096,
    "folder with spaces/a b c.bin": 70_000,
}


def fill(path: Path, size: int) -> None:
    """Distinct bytes per file: a sha256 chain seeded by the file's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(path.name.encode()).digest()
    with path.open("wb") as out:
        written = 0
        while written < size:
            digest = hashlib.sha256(digest).digest()
            block = (digest * 2048)[: size - written]  # 64 KiB per step
            out.write(block)
            written += len(block)


def checksums(folder: Path) -> dict[str, str]:
    """Every regular file under `folder`, by relative path, with its sha256."""
    result = {}
    for path in folder.rglob("*"):
        if path.is_file():
            result[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def folders(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_dir()}


async def lftp(port: int, script: str, home: Path, user: str = USER, password: str = PASSWORD) -> str:
    """Run `lftp -c` against the server; fail the test with lftp's stderr if it fails."""
    assert LFTP is not None
    settings = "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1"
    login = f"open -u '{user},{password}' ftp://127.0.0.1:{port}"
    # UTF-8 locale so local non-ASCII names are handled as text; HOME keeps lftp's
    # history and cache files out of the real home; no proxy from the environment.
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environment.update(LC_ALL="C.UTF-8", HOME=str(home))
    process = await asyncio.create_subprocess_exec(
        LFTP, "-c", f"{settings}; {login}; {script}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment, cwd=home,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), LFTP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"lftp did not finish within {LFTP_TIMEOUT} s: {script}") from None
    assert process.returncode == 0, f"lftp {script!r} exited {process.returncode}: {stderr.decode()!r}"
    assert not stderr.strip(), stderr.decode()  # mirror reports failed files on stderr
    return stdout.decode("utf-8")


async def test_mirror_down_then_mirror_up(server: Server, root: Path, tmp_path: Path) -> None:
    tree = root / "tree"
    for relative, size in TREE.items():
        fill(tree / relative, size)
    (tree / "data" / "empty folder").mkdir()
    (tree / ".hidden").write_bytes(b"not listed, so not mirrored")
    expected = checksums(tree)
    del expected[".hidden"]
    expected_folders = folders(tree)
    home = tmp_path / "home"
    home.mkdir()

    # Down: remote tree -> local folder.
    await lftp(server.port, "mirror tree local-copy", home)
    local = home / "local-copy"
    assert checksums(local) == expected
    assert folders(local) == expected_folders
    assert len(expected) == len(TREE)

    # lftp compares size and time from MLSD with the local copy: nothing is left to fetch.
    assert (await lftp(server.port, "mirror --dry-run tree local-copy", home)).strip() == ""

    # Up: local folder -> a new remote folder.
    await lftp(server.port, "mirror -R local-copy uploaded", home)
    assert checksums(root / "uploaded") == expected
    assert folders(root / "uploaded") == expected_folders
    # Atomic uploads leave no temporary file behind anywhere.
    assert sorted(p.name for p in (root / "uploaded").rglob(".*")) == []


async def test_second_reverse_mirror_sends_only_what_changed(server: Server, root: Path, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """As anonymous: `mirror -R` twice; the second run replaces only the changed file."""
    home = tmp_path / "home"
    source = home / "site"
    for relative, size in list(TREE.items())[:4]:
        fill(source / relative, size)
    anonymous = {"user": "anonymous", "password": "guest@"}

    await lftp(server.port, "mirror -R site site", home, **anonymous)
    assert checksums(root / "site") == checksums(source)

    (source / "readme.txt").write_bytes(b"a new, longer version of the readme\n" * 10)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="aioftp_lite.session"):
        await lftp(server.port, "mirror -R site site", home, **anonymous)
    assert checksums(root / "site") == checksums(source)
    # The server logs every transfer: lftp compared the listing and sent only the change.
    stored = [m.group(1) for r in caplog.records if (m := re.search(r" STOR (/.*): \d+ bytes", r.getMessage()))]
    assert stored == ["/site/readme.txt"]

    await lftp(server.port, "mirror site back", home, **anonymous)
    assert checksums(home / "back") == checksums(source)
