"""Issue 12, points 1 and 2: the jail holds while a folder is swapped for a symlink that
leads outside the root, between the server's check of a path and its use.

Two attackers: a local process renaming in a tight loop (a), and, with no local process
at all, a second FTP session of the same user renaming a symlink that already sits in the
tree (b). Meanwhile a client reads (RETR SIZE MLST NLST CWD) and writes (STOR MKD DELE
RNFR/RNTO) in the swapped folder. Nothing from outside may ever be seen, and nothing
outside may be created, changed or deleted. Each race runs for a few seconds.
"""

from __future__ import annotations

import ftplib
import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from aioftp_lite import Server
from aioftp_lite.storage import jail
from tests.support.clients import ACCOUNTS, PASSWORD, USER, connect_ftplib
from tests.support.processes import server_process
from tests.support.threads import in_thread

RACE_SECONDS = 3.0
OUTSIDE_SECRET = b"OUTSIDE SECRET " * 50  # 750 bytes: its size alone gives it away
INSIDE_SECRET = b"inside " * 10
CANARIES = ("canary-0.txt", "canary-1.txt", "canary-2.txt")

# Swaps `root/swap` (a folder) and `root/.stage/link` (a symlink to the outside folder)
# atomically with renameat2(RENAME_EXCHANGE), or with plain renames where that is missing.
SWAPPER = """
import ctypes, os, sys, time
root, seconds = sys.argv[1], float(sys.argv[2])
swap, link = (root + "/swap").encode(), (root + "/.stage/link").encode()
libc = ctypes.CDLL(None, use_errno=True)
exchange = getattr(libc, "renameat2", None)
end, swaps = time.monotonic() + seconds, 0
while time.monotonic() < end:
    for _ in range(200):
        if exchange is not None and exchange(-100, swap, -100, link, 2) == 0:
            swaps += 1
            continue
        exchange = None
        os.rename(swap, root + "/.stage/real"); os.rename(link, swap)
        os.rename(swap, link); os.rename(root + "/.stage/real", swap)
        swaps += 2
print(swaps)
"""


# The jail's two ways to resolve: openat2 (where the kernel has it), and the walk
# one component at a time that stands in for it elsewhere (forced here).
RESOLVERS = ["openat2", "walk"]
WITHOUT_OPENAT2 = "import aioftp_lite.storage.jail as jail; jail._openat2_works = False"


@pytest.fixture(params=RESOLVERS)
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """For servers in this process; `_server_process` does the same in its own."""
    if request.param == "walk":
        monkeypatch.setattr(jail, "_openat2_works", False)
    return request.param


def _server_process(root: Path, resolver: str) -> AbstractContextManager[int]:
    return server_process(
        root, "--user", f"{USER}:{PASSWORD}", python=WITHOUT_OPENAT2 if resolver == "walk" else ""
    )


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(OUTSIDE_SECRET)
    (outside / "victim.txt").write_bytes(b"victim")
    (outside / "ren-a.txt").write_bytes(b"outside rename me")
    for name in CANARIES:
        (outside / name).write_bytes(b"canary")
    return outside


def _inside_folder(folder: Path) -> None:
    folder.mkdir()
    (folder / "secret.txt").write_bytes(INSIDE_SECRET)
    (folder / "ren-a.txt").write_bytes(b"inside rename me")


def _snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry below `folder`: inode, mtime and content, to see any change at all."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        status = path.lstat()
        content = path.read_bytes() if path.is_file() else b"<dir>"
        seen[str(path.relative_to(folder))] = (status.st_ino, status.st_mtime_ns, content)
    return seen


def _until(deadline: float, client: ftplib.FTP, round_: Callable[[ftplib.FTP, int], None]) -> int:
    rounds = 0
    while time.monotonic() < deadline:
        round_(client, rounds)
        rounds += 1
    return rounds


def _quietly(action: Callable[[], object]) -> object:
    """Run one FTP command; a refusal (4xx/5xx) is a fine outcome in a race."""
    try:
        return action()
    except (ftplib.error_perm, ftplib.error_temp):
        return None


def _reader(folder: str, leaks: list[str]) -> Callable[[ftplib.FTP, int], None]:
    def one_round(client: ftplib.FTP, _number: int) -> None:
        data = io.BytesIO()
        _quietly(lambda: client.retrbinary(f"RETR {folder}/secret.txt", data.write))
        if b"OUTSIDE" in data.getvalue():
            leaks.append("RETR returned the outside file")
        size = _quietly(lambda: client.size(f"{folder}/secret.txt"))
        if size == len(OUTSIDE_SECRET):
            leaks.append("SIZE of the outside file")
        facts = _quietly(lambda: client.sendcmd(f"MLST {folder}/secret.txt"))
        if facts and f"size={len(OUTSIDE_SECRET)};" in str(facts).lower():
            leaks.append(f"MLST facts of the outside file: {facts!r}")
        for names in (_quietly(lambda: client.nlst(folder)),):
            if names and any(canary in name for name in names for canary in CANARIES):
                leaks.append(f"NLST listed the outside folder: {names}")
        if _quietly(lambda: client.cwd(folder)) is not None:
            names = _quietly(client.nlst)
            if names and any(canary in name for name in names for canary in CANARIES):
                leaks.append(f"NLST after CWD listed the outside folder: {names}")
            client.cwd("/")

    return one_round


def _writer(folder: str) -> Callable[[ftplib.FTP, int], None]:
    def one_round(client: ftplib.FTP, number: int) -> None:
        _quietly(lambda: client.storbinary(f"STOR {folder}/evil{number}.txt", io.BytesIO(b"evil")))
        _quietly(lambda: client.mkd(f"{folder}/evildir{number}"))
        _quietly(lambda: client.storbinary(f"STOR {folder}/victim.txt", io.BytesIO(b"overwritten")))
        _quietly(lambda: client.delete(f"{folder}/victim.txt"))
        _quietly(lambda: client.delete(f"{folder}/secret.txt"))
        _quietly(lambda: client.rename(f"{folder}/ren-a.txt", f"{folder}/ren-b.txt"))
        _quietly(lambda: client.rename(f"{folder}/ren-b.txt", f"{folder}/ren-a.txt"))

    return one_round


def _assert_nothing_crossed(leaks: list[str], before: dict, after: dict, during: str) -> None:
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    assert not leaks and not changed, (
        f"{len(leaks)} reads saw outside data, {len(changed)} outside entries created, changed or"
        f" deleted, in {during}; first: {leaks[:2]} {changed[:4]}"
    )


def _storer(folder: str) -> Callable[[ftplib.FTP, int], None]:
    """Uploads only: the widest window between the server's check and its use of a path."""

    def one_round(client: ftplib.FTP, number: int) -> None:
        _quietly(lambda: client.storbinary(f"STOR {folder}/stored{number}.txt", io.BytesIO(b"evil")))

    return one_round


def _run_clients(port: int, rounds: dict[str, int], deadline: float, *workers: tuple[str, Callable]) -> None:
    def run(label: str, one_round: Callable[[ftplib.FTP, int], None]) -> None:
        client = connect_ftplib(port, USER, PASSWORD)
        client.voidcmd("TYPE I")
        rounds[label] = _until(deadline, client, one_round)
        client.quit()

    threads = [threading.Thread(target=run, args=worker) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=RACE_SECONDS + 20)


@pytest.mark.parametrize("resolver", RESOLVERS)
async def test_a_local_process_swapping_a_folder_for_an_outside_link(
    root: Path, tmp_path: Path, resolver: str
) -> None:
    outside = _outside(tmp_path)
    _inside_folder(root / "swap")
    (root / ".stage").mkdir()
    (root / ".stage" / "link").symlink_to(outside)
    before = _snapshot(outside)
    with _server_process(root, resolver) as port:
        swaps, rounds, leaks = await in_thread(
            lambda: _race_with_a_local_swapper(port, root), RACE_SECONDS + 40
        )
    after = _snapshot(outside)
    assert swaps > 1000 and rounds.get("read", 0) > 10 and rounds.get("write", 0) > 10, (swaps, rounds)
    _assert_nothing_crossed(leaks, before, after, f"{rounds} rounds, {swaps} swaps")


def _race_with_a_local_swapper(port: int, root: Path) -> tuple[int, dict[str, int], list[str]]:
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(root), str(RACE_SECONDS + 0.5)], stdout=subprocess.PIPE
    )
    try:
        time.sleep(0.2)  # the swapping runs before the first command and until after the last
        leaks: list[str] = []
        rounds: dict[str, int] = {}
        deadline = time.monotonic() + RACE_SECONDS
        _run_clients(port, rounds, deadline, ("read", _reader("swap", leaks)), ("write", _writer("swap")))
        swaps = int(swapper.communicate(timeout=20)[0] or 0)
    finally:
        if swapper.poll() is None:
            swapper.kill()
            swapper.wait()
    return swaps, rounds, leaks


def _swapping_session(port: int, deadline: float, rounds: dict[str, int]) -> None:
    """Session A: swaps the folders `one` and `two` by renames. `two/inner` is a symlink
    leading outside (refused whenever it is used), `one/inner` a real folder."""
    client = connect_ftplib(port, USER, PASSWORD)
    count = 0
    while time.monotonic() < deadline:
        for source, target in (("one", "parked"), ("two", "one"), ("parked", "two")):
            _quietly(lambda source=source, target=target: client.rename(source, target))
        count += 1
    rounds["swap"] = count
    client.quit()


@pytest.mark.parametrize("resolver", RESOLVERS)
async def test_a_second_session_swapping_folders_that_hold_an_outside_link(
    root: Path, tmp_path: Path, resolver: str
) -> None:
    outside = _outside(tmp_path)
    (root / "one").mkdir()
    _inside_folder(root / "one" / "inner")
    (root / "two").mkdir()
    (root / "two" / "inner").symlink_to(outside)
    before = _snapshot(outside)
    leaks: list[str] = []
    rounds: dict[str, int] = {}
    deadline = time.monotonic() + RACE_SECONDS

    def run(port: int) -> None:
        swapper = threading.Thread(target=_swapping_session, args=(port, deadline, rounds))
        swapper.start()
        _run_clients(port, rounds, deadline, ("write", _writer("one/inner")), ("store", _storer("one/inner")),
                     ("read", _reader("one/inner", leaks)))  # fmt: skip
        swapper.join(timeout=RACE_SECONDS + 20)

    with _server_process(root, resolver) as port:
        await in_thread(lambda: run(port), timeout=RACE_SECONDS + 30)
    after = _snapshot(outside)
    assert min(rounds.get(k, 0) for k in ("swap", "write", "store", "read")) > 10, rounds
    _assert_nothing_crossed(leaks, before, after, f"{rounds} rounds")


async def test_symlinks_that_stay_inside_the_root_keep_working(
    resolver: str, root: Path, tmp_path: Path
) -> None:
    outside = _outside(tmp_path)
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_bytes(b"a in docs")
    (root / "top.txt").write_bytes(b"top")
    (root / "abs-link").symlink_to(
        root / "docs"
    )  # absolute: openat2's BENEATH refuses these, the walk follows
    (root / "rel-link").symlink_to("docs")
    (root / "docs" / "up").symlink_to("../top.txt")
    (root / "file-link").symlink_to(root / "docs" / "a.txt")
    (root / "chain").symlink_to("rel-link/up")
    (root / "out").symlink_to(outside)
    (root / "sneaky").symlink_to("docs/../../outside/secret.txt")
    before = _snapshot(outside)

    def session(port: int) -> dict[str, object]:
        client = connect_ftplib(port, USER, PASSWORD)
        seen: dict[str, object] = {"names": sorted(client.nlst())}
        for path in ("abs-link/a.txt", "rel-link/a.txt", "docs/up", "chain", "file-link"):
            data = io.BytesIO()
            client.retrbinary(f"RETR {path}", data.write)
            seen[f"RETR {path}"] = data.getvalue()
            seen[f"SIZE {path}"] = client.size(path)
        client.cwd("abs-link")
        seen["pwd"], seen["cwd names"] = client.pwd(), sorted(client.nlst())
        client.storbinary("STOR new.txt", io.BytesIO(b"via the link"))
        client.cwd("/")
        client.storbinary("STOR rel-link/other.txt", io.BytesIO(b"other"))
        client.storbinary("STOR file-link", io.BytesIO(b"replaced through the link"))
        client.mkd("abs-link/made")
        refused = {}
        for command in ("RETR out/secret.txt", "RETR sneaky", "SIZE sneaky", "CWD out", "MLST out/secret.txt",
                        "NLST out", "MKD out/x", "DELE out/victim.txt", "STOR out/x", "STOR sneaky"):  # fmt: skip
            try:
                if command.startswith(("RETR", "STOR", "NLST")):
                    verb, path = command.split()
                    if verb == "STOR":
                        client.storbinary(command, io.BytesIO(b"x"))
                    else:
                        client.retrlines(command, lambda _line: None)
                else:
                    client.sendcmd(command)
                refused[command] = "allowed"
            except ftplib.error_perm as error:
                refused[command] = str(error)[:3]
        seen["refused"] = refused
        client.quit()
        return seen

    async with Server(root=root, host="127.0.0.1", port=0, accounts=ACCOUNTS) as server:
        seen = await in_thread(lambda: session(server.port))
    assert seen["names"] == ["abs-link", "chain", "docs", "file-link", "rel-link", "top.txt"]
    assert seen["RETR abs-link/a.txt"] == seen["RETR rel-link/a.txt"] == b"a in docs"
    assert seen["RETR docs/up"] == seen["RETR chain"] == b"top"
    assert seen["RETR file-link"] == b"a in docs" and seen["SIZE file-link"] == len(b"a in docs")
    assert seen["pwd"] == "/abs-link" and seen["cwd names"] == ["a.txt", "up"]
    assert (root / "docs" / "new.txt").read_bytes() == b"via the link"
    assert (root / "docs" / "other.txt").read_bytes() == b"other"
    assert (root / "docs" / "a.txt").read_bytes() == b"replaced through the link"
    assert (root / "file-link").is_symlink() and (root / "docs" / "made").is_dir()
    assert seen["refused"] == dict.fromkeys(seen["refused"], "550"), seen["refused"]
    assert _snapshot(outside) == before
