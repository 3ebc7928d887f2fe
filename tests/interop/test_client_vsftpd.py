"""The REPL's new verbs through batch mode against vsftpd: a server without MLSD (LIST times,
MDTM), without MFMT and without HASH. Skipped where vsftpd cannot run (not root, no `ftp`)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.files import make_tree, sha, snapshot
from tests.support.processes import run_client


def readable(base: Path) -> None:
    """What anonymous vsftpd may serve: world-readable files and folders."""
    for path in [base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


async def test_mirror_both_ways_pget_and_globs_on_vsftpd(vsftpd: tuple[int, Path], tmp_path: Path) -> None:
    port, root = vsftpd
    make_tree(root / "site")
    readable(root / "site")
    local = tmp_path / "local"
    local.mkdir()
    url = f"ftp://127.0.0.1:{port}"
    # Down: LIST has no seconds (nor a time, for old files): MDTM gives them.
    status, out, err = await run_client(url, "-c", "mirror site", cwd=local)
    assert (status, err) == (0, ""), out
    assert snapshot(local / "site") == snapshot(root / "site")
    status, out, err = await run_client(url, "-c", "mirror site", cwd=local)
    assert (status, err) == (0, "") and "got 0 files" in out and "5 identical" in out
    # Up: no MFMT, so a re-run takes a remote copy newer than the local file as done.
    status, out, err = await run_client(url, "-c", "mirror -R --parallel 2 site upload/site", cwd=local)
    assert (status, err) == (0, ""), out
    uploaded = {path: digest for path, (digest, _) in snapshot(root / "upload" / "site").items()}
    assert uploaded == {path: digest for path, (digest, _) in snapshot(local / "site").items()}
    status, out, err = await run_client(url, "-c", "mirror -R site upload/site", cwd=local)
    assert (status, err) == (0, "") and "sent 0 files" in out and "5 identical" in out
    # pget with REST ranges and ABOR; a glob in a folder part; get -c of a missing file; ls -lR.
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    readable(root)
    command = 'pget -n 3 big.bin; mget "site/*/*.txt"; get -c site/a.txt; ls -lR site'
    status, out, err = await run_client(url, "-c", command, cwd=tmp_path)
    assert (status, err) == (0, ""), out
    assert sha(tmp_path / "big.bin") == sha(root / "big.bin") and "on 3 connections" in out
    assert sha(tmp_path / "d.txt") == sha(root / "site" / "été" / "d.txt")
    assert sha(tmp_path / "a.txt") == sha(root / "site" / "a.txt")
    assert "site/sub dir:" in out and any(line.startswith("-rw-r--r--") for line in out.splitlines())
