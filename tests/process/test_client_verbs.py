"""The everyday verbs through batch mode: cat, more, edit, !CMD, chmod, quote, site, du, find,
ls -l/-a/-R, cd alone, and "did you mean" for a mistyped command; ls -l against pyftpdlib too."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.processes import client, run_client
from tests.support.pyftpd import PASSWORD as PY_PASSWORD
from tests.support.pyftpd import USER as PY_USER
from tests.support.pyftpd import PyFtpd


@pytest.fixture
async def server(root: Path):  # type: ignore[no-untyped-def]
    """Ours, showing names that start with a dot (ls -a, find)."""
    async with Server(root=root, host="127.0.0.1", port=0, show_hidden=True) as running:
        yield running


def make(root: Path) -> None:
    (root / "docs" / "sub").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("old line\n")
    (root / "docs" / "b.txt").write_text("second\n")
    (root / "docs" / "sub" / "c.bin").write_bytes(os.urandom(3000))
    (root / "docs" / ".hidden").write_text("h\n")


async def test_cat_more_and_edit(server: Server, root: Path, tmp_path: Path) -> None:
    make(root)
    url = f"ftp://127.0.0.1:{server.port}/docs"
    status, out, err = await client(tmp_path, url, "-c", "cat a.txt b.txt")
    assert (status, err, out) == (0, "", "old line\nsecond\n")
    status, out, err = await client(tmp_path, url, "-c", "more b.txt", PAGER="cat")
    assert (status, err, out) == (0, "", "second\n")
    status, out, err = await client(tmp_path, url, "-c", "edit a.txt", EDITOR="sed -i s/old/new/")
    assert (status, err, out) == (0, "", "a.txt: changed, uploaded (9 B)\n")
    assert (root / "docs" / "a.txt").read_text() == "new line\n"
    status, out, err = await client(tmp_path, url, "-c", "edit b.txt", EDITOR="true")
    assert (status, err, out) == (0, "", "b.txt: not changed, not uploaded\n")
    status, out, err = await client(
        tmp_path, url, "-c", "edit new.txt", EDITOR="sh -c 'echo made > \"$1\"' sh"
    )
    assert (status, err) == (0, "") and (root / "docs" / "new.txt").read_text() == "made\n"
    status, out, err = await client(tmp_path, url, "-c", "edit b.txt", EDITOR="false")
    assert status == 1 and err == "aioftp-lite-client: edit b.txt: $EDITOR 'false' ended with status 1\n"


async def test_local_commands_chmod_quote_and_site(server: Server, root: Path, tmp_path: Path) -> None:
    make(root)
    local = tmp_path / "local"
    local.mkdir()
    url = f"ftp://127.0.0.1:{server.port}/docs"
    status, out, err = await run_client(url, "-c", "!echo hi; echo there > made.txt", cwd=local)
    assert (status, err, out) == (0, "", "hi\n") and (local / "made.txt").read_text() == "there\n"
    status, _, err = await run_client(url, "-c", "!exit 3", cwd=local)
    assert (status, err) == (1, "aioftp-lite-client: !exit 3: exit status 3\n")
    status, out, err = await run_client(url, "-c", "chmod 600 *.txt; quote MDTM a.txt; site help", cwd=local)
    assert (status, err) == (0, "")
    assert stat.S_IMODE((root / "docs" / "a.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "docs" / "b.txt").stat().st_mode) == 0o600
    lines = out.splitlines()
    assert lines[0].startswith("213 2") and len(lines[0]) == len("213 20240105103000")
    assert any(line.startswith("214") and "CHMOD" in line for line in lines[1:])
    status, _, err = await run_client(url, "-c", "chmod rwx a.txt", cwd=local)
    assert status == 1 and "mode must be octal" in err
    status, _, err = await run_client(url, "-c", "quote PASV", cwd=local)
    assert status == 1 and "data commands cannot go through quote" in err


async def test_du_find_ls_options_cd_home_and_did_you_mean(
    server: Server, root: Path, tmp_path: Path
) -> None:
    make(root)
    url = f"ftp://127.0.0.1:{server.port}"
    status, out, err = await run_client(url, "-c", "du docs; du -sh docs", cwd=tmp_path)
    assert (status, err) == (0, "")
    # sub: 3000 B -> 3 KiB; docs: 9 + 7 + 2 + 3000 = 3018 B -> 3 KiB; then -s -h: the total alone.
    assert out.splitlines() == ["3\tdocs/sub", "3\tdocs", "2.9 KiB\tdocs"]
    status, out, err = await run_client(url, "-c", "find docs", cwd=tmp_path)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "docs/",
        "docs/.hidden",
        "docs/a.txt",
        "docs/b.txt",
        "docs/sub/",
        "docs/sub/c.bin",
    ]
    status, out, err = await run_client(url, "-c", "ls docs; ls -a docs", cwd=tmp_path)
    names = [line.split()[-1] for line in out.splitlines()]
    assert (status, err) == (0, "") and names == [
        "a.txt",
        "b.txt",
        "sub/",
        ".hidden",
        "a.txt",
        "b.txt",
        "sub/",
    ]
    status, out, err = await run_client(url, "-c", "ls -lR docs", cwd=tmp_path)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("-rw-") and lines[0].endswith("  a.txt") and " 9  " in lines[0]
    assert lines[2].startswith("drwx") and lines[2].endswith("  sub/")
    assert lines[3:5] == ["", "docs/sub:"] and lines[5].endswith("  c.bin") and " 3000  " in lines[5]
    status, out, err = await run_client(
        url + "/docs", "-c", "pwd; cd; pwd; cd docs/sub; cd; pwd", cwd=tmp_path
    )
    assert (status, err, out) == (0, "", "/docs\n/\n/\n")
    status, _, err = await run_client(url, "-c", "lss", cwd=tmp_path)
    assert (status, err) == (
        1,
        "aioftp-lite-client: lss: unknown command 'lss' (did you mean less or ls or lls? type `help` for the list)\n",
    )
    status, _, err = await run_client(url, "-c", "mirorr x", cwd=tmp_path)
    assert status == 1 and "did you mean mirror or more?" in err


async def test_ls_long_and_recursive_on_pyftpdlib(pyftpd: PyFtpd, tmp_path: Path) -> None:
    make(pyftpd.root)
    url = f"ftp://{PY_USER}:{PY_PASSWORD.replace(' ', '%20')}@127.0.0.1:{pyftpd.port}"
    status, out, err = await run_client(url, "-c", "ls -l -R docs; du -s docs", cwd=tmp_path)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("-rw") and lines[0].endswith("  a.txt")
    assert "docs/sub:" in lines and lines[-1] == "3\tdocs"
