"""mirror, mirror -R, get -r and put -r: whole trees, checksums and file times, against our
server and pyftpdlib (with MLSD, and without it: LIST times and MDTM), through batch mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aioftp_lite import Server
from client.mirror import FileInfo, plan
from tests.support.files import OLD, make_tree, snapshot
from tests.support.processes import run_client
from tests.support.pyftpd import PASSWORD as PY_PASSWORD
from tests.support.pyftpd import USER as PY_USER
from tests.support.pyftpd import PyFtpd


def test_plan_copies_skips_and_deletes() -> None:
    source = {"a": FileInfo(10, 100.0), "b": FileInfo(5, 200.0), "c": FileInfo(7, 300.0), "d": None,
              "d/e": FileInfo(1, 50.0), "n": FileInfo(3, 900.0)}  # fmt: skip
    target = {"a": FileInfo(10, 100.4), "b": FileInfo(6, 200.0), "c": FileInfo(8, 400.0), "x": None,
              "x/y": FileInfo(1, 1.0), "n": FileInfo(3, 0.0)}  # fmt: skip
    result = plan(source, target, delete=True)
    assert (result.folders, result.copy, result.same) == (["d"], ["b", "c", "d/e", "n"], ["a"])
    assert result.delete == ["x/y", "x"]  # deepest first
    newer = plan(source, target, only_newer=True)
    assert (newer.copy, newer.older, newer.delete) == (["d/e", "n"], ["b", "c"], [])  # b: as old, not newer
    # A LIST time (a day, for old files) where MDTM gave none is compared with a day's slack; a target without MFMT by "not older".
    coarse = {"a": FileInfo(10, 100.0, precise=False)}
    assert plan(coarse, {"a": FileInfo(10, 40_000.0)}).same == ["a"]
    assert plan({"a": FileInfo(10, 100.0)}, {"a": FileInfo(10, 5000.0)}, target_keeps_times=False).same == [
        "a"
    ]


async def test_mirror_down_keeps_times_and_skips_identical_files(
    server: Server, root: Path, tmp_path: Path
) -> None:
    make_tree(root / "site")
    local = tmp_path / "local"
    local.mkdir()
    url = f"ftp://127.0.0.1:{server.port}"
    status, out, err = await run_client(url, "-c", "mirror site", cwd=local)
    assert (status, err) == (0, "")
    assert snapshot(local / "site") == snapshot(root / "site")  # bytes, folders (empty too) and times
    assert "got sub dir/b.bin: 195.3 KiB in " in out
    assert out.splitlines()[-1].startswith("mirror site: got 5 files: 229.5 KiB in ")
    # A second run copies nothing; a changed file is copied again.
    status, out, err = await run_client(url, "-c", "mirror site", cwd=local)
    assert (status, err) == (0, "") and out.startswith("mirror site: got 0 files: 0 B in ")
    assert ", 5 identical" in out
    (root / "site" / "a.txt").write_bytes(b"changed\n")
    (local / "site" / "only here.txt").write_bytes(b"x")
    status, out, err = await run_client(url, "-c", "mirror --delete site", cwd=local)
    assert (status, err) == (0, "")
    assert (
        "got a.txt: 8 B in " in out and "deleted only here.txt" in out and ", 4 identical, 1 deleted" in out
    )
    assert snapshot(local / "site") == snapshot(root / "site")


async def test_mirror_up_with_mfmt_parallel_and_only_newer(
    server: Server, root: Path, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    make_tree(local / "site")
    url = f"ftp://127.0.0.1:{server.port}"
    status, out, err = await run_client(url, "-c", "mirror -R --parallel 3 site public", cwd=local)
    assert (status, err) == (0, "")
    assert snapshot(root / "public") == snapshot(local / "site")  # times kept through MFMT
    assert out.splitlines()[-1].startswith("mirror public: sent 5 files: ")
    status, out, err = await run_client(url, "-c", "mirror -R site public", cwd=local)
    assert (status, err) == (0, "") and "sent 0 files" in out and "5 identical" in out
    # --only-newer leaves a remote file that is newer than ours.
    os.utime(root / "public" / "a.txt", (OLD + 10**7, OLD + 10**7))
    (local / "site" / "a.txt").write_bytes(b"older but different\n")
    os.utime(local / "site" / "a.txt", (OLD, OLD))
    status, out, err = await run_client(url, "-c", "mirror -R --only-newer site public", cwd=local)
    assert (status, err) == (0, "") and "sent 0 files" in out and "1 not newer" in out
    status, _, err = await run_client(url, "-c", "mirror -R --parallel 0 site public", cwd=local)
    assert status == 1 and "--parallel wants a number from 1 to 16, not '0'" in err


async def test_get_r_and_put_r(server: Server, root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    make_tree(local / "up")
    url = f"ftp://127.0.0.1:{server.port}"
    status, _, err = await run_client(url, "-c", "put -r up; mkdir copies; get -r up copies/down", cwd=local)
    assert (status, err) == (0, "")
    assert snapshot(root / "up") == snapshot(local / "up") == snapshot(local / "copies" / "down")


@pytest.mark.parametrize("fixture", ["pyftpd", "old_pyftpd"])
async def test_mirror_both_ways_with_pyftpdlib(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: PyFtpd = request.getfixturevalue(fixture)  # old_pyftpd: no MLSD, times from LIST and MDTM
    local = tmp_path / "local"
    make_tree(local / "site")
    url = f"ftp://{PY_USER}:{PY_PASSWORD.replace(' ', '%20')}@127.0.0.1:{server.port}"
    status, out, err = await run_client(url, "-c", "mirror -R site site; mirror site back", cwd=local)
    assert (status, err) == (0, ""), out
    assert snapshot(server.root / "site") == snapshot(local / "site")  # pyftpdlib has MFMT
    assert snapshot(local / "back") == snapshot(local / "site")
    status, out, err = await run_client(url, "-c", "mirror site back; mirror -R site site", cwd=local)
    assert (status, err) == (0, "") and out.count("5 identical") == 2 and "got 0 files" in out
