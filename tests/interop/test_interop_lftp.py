"""lftp as an independent client: `mirror` a tree down and `mirror -R` it up again.

The tree has nested folders, files of several sizes (empty to a few MiB), and names with
spaces and non-ASCII letters; every file's sha256 is compared in both directions.
lftp runs as a subprocess with a timeout, so the server task keeps running meanwhile.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.files import TREE, checksums, fill, folders
from tests.support.tools import LFTP, lftp

pytestmark = pytest.mark.skipif(LFTP is None, reason="lftp is not installed (apt-get install lftp)")


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
    stored = [
        m.group(1) for r in caplog.records if (m := re.search(r" STOR (/.*): \d+ bytes", r.getMessage()))
    ]
    assert stored == ["/site/readme.txt"]

    await lftp(server.port, "mirror site back", home, **anonymous)
    assert checksums(home / "back") == checksums(source)
