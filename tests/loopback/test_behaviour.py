"""Issue 2, point 4: the root jail, hidden dotfiles, read-only mode (atomic uploads:
test_atomic_uploads.py).

Each test looks at the disk as well as at the replies: what the server says and what
it leaves behind must both be right.
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aioftp_lite import Server
from tests.support.clients import ACCOUNTS, PASSWORD, USER, code_of, connect_ftplib
from tests.support.control import RawControl
from tests.support.threads import in_thread


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` (links not followed) with its content (None for folders)."""
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            found[relative] = b"-> " + os.readlink(path).encode()
        elif path.is_dir():
            found[relative] = None
        else:
            found[relative] = path.read_bytes()
    return found


class Recorder:
    """Runs client calls, keeping every reply text and every byte received."""

    def __init__(self, client: ftplib.FTP) -> None:
        self.client = client
        self.seen: list[str] = []
        self.codes: dict[str, int] = {}

    def attempt(self, label: str, call: Callable[[], object]) -> int:
        try:
            result = call()
            self.seen.append(repr(result))
            code = int(self.client.lastresp) if self.client.lastresp.isdigit() else 0
        except ftplib.Error as error:
            self.seen.append(str(error))
            code = int(str(error)[:3])
        self.codes[label] = code
        return code

    def retr(self, path: str) -> bytes:
        received = io.BytesIO()
        self.client.retrbinary(f"RETR {path}", received.write)
        self.seen.append(repr(received.getvalue()))
        return received.getvalue()

    def lines(self, line: str) -> list[str]:
        out: list[str] = []
        self.client.retrlines(line, out.append)
        self.seen.extend(out)
        return out


# --- the root jail --------------------------------------------------------------------


@pytest.fixture
def jail(tmp_path: Path, root: Path) -> dict[str, object]:
    """A secret beside the root, and links inside the root that lead to it."""
    marker = f"TOP-SECRET-{secrets.token_hex(8)}"
    (tmp_path / "secret.txt").write_text(marker)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret2.txt").write_text(marker)
    (root / "inside").mkdir()
    (root / "inside" / "ok.txt").write_text("public")
    (root / "link_file").symlink_to("../secret.txt")
    (root / "link_abs").symlink_to(tmp_path / "secret.txt")
    (root / "link_dir").symlink_to(outside)
    (root / "inside" / "deep_link").symlink_to("../../outside")
    (root / "ok_link").symlink_to("inside/ok.txt")  # stays inside: allowed
    (root / "loop").symlink_to("loop")  # a link to itself: unavailable, not a server error
    return {"marker": marker, "before": outside_world(tmp_path, root), "tmp": tmp_path}


def outside_world(tmp_path: Path, root: Path) -> dict[str, bytes | None]:
    """Everything beside the root: what the jail must keep out of reach."""
    everything = snapshot(tmp_path)
    return {name: data for name, data in everything.items() if not (tmp_path / name).is_relative_to(root)}


async def test_root_jail_never_reveals_reads_or_writes_outside(
    server: Server, root: Path, jail: dict
) -> None:
    tmp: Path = jail["tmp"]
    absolute_secret = str(tmp / "secret.txt")

    def session() -> Recorder:
        rec = Recorder(connect_ftplib(server.port, USER, PASSWORD))
        c = rec.client
        reads = ["../secret.txt", "../../secret.txt", "/../secret.txt", "/../../../secret.txt",
                 "link_file", "link_abs", "link_dir/secret2.txt", "/link_dir/secret2.txt",
                 "inside/deep_link/secret2.txt", absolute_secret, "inside/../../secret.txt"]  # fmt: skip
        for path in reads:
            rec.attempt(f"RETR {path}", lambda p=path: rec.retr(p))
            for verb in ("SIZE", "MDTM", "MLST"):
                rec.attempt(f"{verb} {path}", lambda line=f"{verb} {path}": c.sendcmd(line))
        for folder in ("link_dir", "inside/deep_link", "/link_dir/"):
            for verb in ("LIST", "NLST", "MLSD"):
                rec.attempt(f"{verb} {folder}", lambda line=f"{verb} {folder}": rec.lines(line))
            rec.attempt(f"CWD {folder}", lambda f=folder: c.cwd(f))
            rec.attempt(f"STAT {folder}", lambda line=f"STAT {folder}": c.sendcmd(line))
            rec.attempt(f"RMD {folder}", lambda line=f"RMD {folder}": c.sendcmd(line))
        writes = {
            "STOR link_file": lambda: c.storbinary("STOR link_file", io.BytesIO(b"overwritten")),
            "STOR link_abs": lambda: c.storbinary("STOR link_abs", io.BytesIO(b"overwritten")),
            "APPE link_file": lambda: c.storbinary("APPE link_file", io.BytesIO(b"appended")),
            "REST STOR link_file": lambda: c.storbinary("STOR link_file", io.BytesIO(b"x"), rest=3),
            "STOR link_dir/new.txt": lambda: c.storbinary("STOR link_dir/new.txt", io.BytesIO(b"new")),
            "STOU link_dir/u": lambda: c.storbinary("STOU link_dir/u", io.BytesIO(b"new")),
            "MKD link_dir/sub": lambda: c.mkd("link_dir/sub"),
            "DELE link_dir/secret2.txt": lambda: c.delete("link_dir/secret2.txt"),
            "RNTO link_dir/stolen.txt": lambda: c.rename("inside/ok.txt", "link_dir/stolen.txt"),
            "RNFR link_dir/secret2.txt": lambda: c.rename("link_dir/secret2.txt", "found.txt"),
        }
        for label, call in writes.items():
            rec.attempt(label, call)
        rec.attempt("RETR loop", lambda: rec.retr("loop"))
        for line in ("SIZE loop", "CWD loop", "MKD loop/sub"):
            rec.attempt(line, lambda line=line: c.sendcmd(line))
        # On the link entry itself (like rm and mv on a link): may act on the link, never the target.
        rec.attempt("RNFR link_abs", lambda: c.rename("link_abs", "renamed_link"))
        rec.attempt("DELE link_file", lambda: c.delete("link_file"))
        # Climbing above the root just stays at the root.
        c.cwd("/inside")
        rec.attempt("CWD ../../..", lambda: c.cwd("../../.."))
        rec.codes["PWD"] = 257 if c.pwd() == "/" else 0
        rec.attempt("LIST ../..", lambda: rec.lines("LIST ../.."))
        rec.attempt("NLST /..", lambda: rec.lines("NLST /.."))
        rec.attempt("RETR ok_link", lambda: rec.retr("ok_link"))  # a link inside the root works
        rec.codes["root listing"] = 0
        rec.seen.append(repr(sorted(c.nlst("/"))))
        c.quit()
        return rec

    rec = await in_thread(session)
    allowed = {"CWD ../../..", "PWD", "LIST ../..", "NLST /..", "RETR ok_link", "root listing"}
    on_links = {"RNFR link_abs", "DELE link_file"}
    refused = {label: code for label, code in rec.codes.items() if label not in allowed | on_links}
    assert refused and all(code == 550 for code in refused.values()), {
        label: code for label, code in refused.items() if code != 550
    }
    assert all(rec.codes[label] in (226, 257, 250, 0) for label in allowed), rec.codes
    assert all(rec.codes[label] in (550, 250) for label in on_links), rec.codes
    transcript = "\n".join(rec.seen)
    assert jail["marker"] not in transcript
    real_tmp = os.path.realpath(tmp)
    assert real_tmp not in transcript.replace(absolute_secret, "")  # no real path leaks out
    assert "'public'" in transcript or "b'public'" in transcript  # the inside link was read
    # Links that lead outside are not even listed; nothing outside changed.
    assert f"{sorted(['inside', 'ok_link'])!r}" in transcript
    assert outside_world(tmp, root) == jail["before"]
    assert (root / "inside" / "ok.txt").read_text() == "public"
    assert not (root / "found.txt").exists()


# --- dotfiles -------------------------------------------------------------------------


def _listings(port: int) -> dict[str, list[str]]:
    client = connect_ftplib(port)
    out = {
        "LIST": sorted(line.split()[-1] for line in _lines(client, "LIST")),
        "LIST -la": sorted(line.split()[-1] for line in _lines(client, "LIST -la")),
        "NLST": sorted(client.nlst()),
        "MLSD": sorted(name for name, _ in client.mlsd()),
        "STAT": sorted(line.split()[-1] for line in client.sendcmd("STAT /").splitlines()[1:-1]),
    }
    out["RETR"] = [str(client.size(".hidden.txt"))]  # hidden is not forbidden: it can be fetched
    client.quit()
    return out


def _lines(client: ftplib.FTP, line: str) -> list[str]:
    out: list[str] = []
    client.retrlines(line, out.append)
    return out


@pytest.mark.parametrize("show_hidden", [False, True])
async def test_dotfiles_are_listed_only_with_show_hidden(root: Path, show_hidden: bool) -> None:
    (root / ".hidden.txt").write_text("dot")
    (root / ".config").mkdir()
    (root / "visible.txt").write_text("seen")
    async with Server(root=root, host="127.0.0.1", port=0, show_hidden=show_hidden) as server:
        # An upload in progress (a temporary file) is never listed, even with show_hidden.
        (root / ".visible.txt.0123456789ab.aioftp-part").write_text("partial")
        out = await in_thread(lambda: _listings(server.port))
    expected = [".config", ".hidden.txt", "visible.txt"] if show_hidden else ["visible.txt"]
    for how in ("LIST", "LIST -la", "NLST", "MLSD", "STAT"):
        assert out[how] == expected, how
    assert out["RETR"] == ["3"]


# --- read-only ------------------------------------------------------------------------

WRITES = ("STOR new.txt", "STOR keep.txt", "STOU", "STOU keep.txt", "APPE keep.txt", "DELE keep.txt",
          "MKD made", "XMKD made", "RMD folder", "XRMD folder", "RNFR keep.txt", "RNTO moved.txt")  # fmt: skip


@pytest.mark.parametrize("user", ["anonymous", USER])
async def test_read_only_refuses_every_write(root: Path, user: str) -> None:
    (root / "keep.txt").write_bytes(b"keep me")
    (root / "folder").mkdir()
    (root / "folder" / "inner.txt").write_bytes(b"inner")
    before = snapshot(root)
    password = PASSWORD if user == USER else "guest@"

    async with Server(root=root, host="127.0.0.1", port=0, accounts=ACCOUNTS, anonymous="write",
                      read_only=True) as server:  # fmt: skip

        def session() -> dict:
            raw = RawControl(server.port)
            raw.login(user, password)
            codes = {line: raw.command(line).code for line in WRITES}
            raw.close()
            client = connect_ftplib(server.port, user, password)
            try:  # a real client's upload, with a data connection set up first
                client.storbinary("STOR via-ftplib.txt", io.BytesIO(b"nope"))
                codes["ftplib STOR"] = 226
            except ftplib.error_perm as error:
                codes["ftplib STOR"] = int(str(error)[:3])
            received = io.BytesIO()
            client.retrbinary("RETR keep.txt", received.write)
            reads = {
                "RETR": received.getvalue(),
                "NLST": sorted(client.nlst()),
                "MLSD": {name: facts["perm"] for name, facts in client.mlsd()},
                "SIZE": client.size("keep.txt"),
                "CWD": code_of(client, "CWD folder"),
                "LIST": len(_lines(client, "LIST")),
            }
            client.quit()
            return {"codes": codes, "reads": reads}

        out = await in_thread(session)
    assert out["codes"] == dict.fromkeys([*WRITES, "ftplib STOR"], 550)
    reads = out["reads"]
    assert reads["RETR"] == b"keep me" and reads["NLST"] == ["folder", "keep.txt"]
    assert reads["MLSD"] == {"folder": "el", "keep.txt": "r"}  # perm facts admit no write
    assert reads["SIZE"] == 7 and reads["CWD"] == 250 and reads["LIST"] == 1
    assert snapshot(root) == before


async def test_writes_are_refused_quickly_in_read_only_mode(root: Path) -> None:
    """Refusal happens before any data connection: no 150, no waiting for a connection."""
    async with Server(root=root, host="127.0.0.1", port=0, read_only=True, data_timeout=30) as server:

        def session() -> float:
            raw = RawControl(server.port)
            raw.login()
            started = time.monotonic()
            codes = [raw.command("STOR x").code, raw.command("APPE x").code]
            raw.close()
            assert codes == [550, 550]
            return time.monotonic() - started

        elapsed = await in_thread(session)
    assert elapsed < 2
    await asyncio.sleep(0)
    assert os.listdir(root) == []


async def test_names_of_uploads_in_progress_are_reserved(server, root) -> None:
    """A user file named like a partial upload would be deleted as a crash leftover at the
    next start: creating one is refused with 553, and nothing appears on disk."""

    def attempts() -> list[str]:
        client = connect_ftplib(server.port)
        codes = []
        for command in ("MKD .a.1.aioftp-part", "APPE x.aioftp-part"):
            try:
                codes.append(client.sendcmd(command)[:3])
            except ftplib.error_perm as error:
                codes.append(str(error)[:3])
        try:
            client.storbinary("STOR .b.2.aioftp-part", io.BytesIO(b"data"))
        except ftplib.error_perm as error:
            codes.append(str(error)[:3])
        client.storbinary("STOR plain.txt", io.BytesIO(b"data"))
        client.sendcmd("RNFR plain.txt")
        try:
            client.sendcmd("RNTO .c.3.aioftp-part")
        except ftplib.error_perm as error:
            codes.append(str(error)[:3])
        client.quit()
        return codes

    assert await asyncio.wait_for(asyncio.to_thread(attempts), 20) == ["553"] * 4
    assert sorted(p.name for p in root.iterdir()) == ["plain.txt"]
