"""What only the local backend has: real symlinks, the root jail, temporary upload files."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from aioftp_lite.storage import LocalStorage, WriteMode
from aioftp_lite.storage.local import PARTIAL_SUFFIX
from tests.support.storage import CHUNK, DATA, P, assert_os_error, names, read_file, write_file


@pytest.fixture
def jail(tmp_path: Path) -> Jail:
    """A local storage, its root folder, and a folder outside the root with a secret in it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (root / "inside.txt").write_bytes(b"inside")
    (root / "to_secret").symlink_to(outside / "secret.txt")
    (root / "to_outside").symlink_to(outside)
    (root / "to_inside").symlink_to(root / "inside.txt")
    return LocalStorage(root, chunk_size=CHUNK), root, outside


@pytest.mark.parametrize("path", ["/to_secret", "/to_outside", "/to_outside/secret.txt"])
async def test_symlink_leading_outside_is_refused(jail: Jail, path: str) -> None:
    storage, _root, outside = jail
    await assert_os_error(PermissionError, errno.EACCES, storage.stat(P(path)))
    await assert_os_error(PermissionError, errno.EACCES, storage.open_read(P(path)))
    for mode in WriteMode:
        await assert_os_error(PermissionError, errno.EACCES, storage.open_write(P(path), mode))
    await assert_os_error(PermissionError, errno.EACCES, storage.list_dir(P("/to_outside")))
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_symlinks_leading_outside_are_hidden_from_listings(jail: Jail) -> None:
    storage, root, _outside = jail
    (root / "broken").symlink_to(root / "nothing-here")
    assert await names(storage) == {"inside.txt", "to_inside"}


async def test_symlink_inside_the_root_works(jail: Jail) -> None:
    storage, _root, _outside = jail
    assert (await storage.stat(P("/to_inside"))).size == len(b"inside")
    assert await read_file(storage, "/to_inside") == b"inside"


async def test_removing_a_symlink_removes_the_link_not_its_target(jail: Jail) -> None:
    storage, root, outside = jail
    await storage.remove(P("/to_inside"))
    assert (root / "inside.txt").read_bytes() == b"inside"
    assert not (root / "to_inside").is_symlink()
    await storage.remove(P("/to_secret"))  # the link is inside the root; its target stays untouched
    assert (outside / "secret.txt").read_bytes() == b"secret"


async def test_renaming_a_symlink_moves_the_link_not_its_target(jail: Jail) -> None:
    storage, root, _outside = jail
    await storage.rename(P("/to_inside"), P("/renamed"))
    assert (root / "renamed").is_symlink()
    assert (root / "inside.txt").read_bytes() == b"inside"
    await write_file(storage, "/other", b"other")
    await storage.rename(P("/other"), P("/renamed"))  # over a link: the link is replaced
    assert not (root / "renamed").is_symlink()
    assert (root / "inside.txt").read_bytes() == b"inside"


@pytest.mark.parametrize(
    "path", ["/..", "/../outside/secret.txt", "/../root/../outside/secret.txt", "/inside.txt/../../outside"]
)
async def test_dotdot_never_escapes(jail: Jail, path: str) -> None:
    storage, _root, outside = jail
    for operation in (storage.stat(P(path)), storage.open_read(P(path)), storage.list_dir(P(path)),
                      storage.open_write(P(path)), storage.remove(P(path)), storage.mkdir(P(path) / "x"),
                      storage.rename(P("/inside.txt"), P(path))):  # fmt: skip
        with pytest.raises(PermissionError):
            await operation
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_replace_writes_a_hidden_temporary_file_beside_the_target(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_bytes(b"old")
    storage = LocalStorage(root)
    writer = await storage.open_write(P("/sub/f"))
    await writer.write(b"new data")
    [temporary] = [p for p in (root / "sub").iterdir() if p.name != "f"]
    # Hidden, and named independently of the final name (which may use all 255 bytes).
    assert temporary.name.startswith(".") and temporary.name.endswith(PARTIAL_SUFFIX)
    assert await names(storage, "/sub") == {"f"}  # the storage does not list it
    await writer.abort()
    assert sorted(p.name for p in (root / "sub").iterdir()) == ["f"]
    assert (root / "sub" / "f").read_bytes() == b"old"
    writer = await storage.open_write(P("/sub/f"))
    await writer.write(b"new data")
    await writer.commit()
    assert sorted(p.name for p in (root / "sub").iterdir()) == ["f"]
    assert (root / "sub" / "f").read_bytes() == b"new data"


async def test_many_aborted_uploads_leave_no_temporary_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    (tmp_path / "f").write_bytes(DATA)

    async def aborted_upload(index: int) -> None:
        writer = await storage.open_write(P("/f"))
        await writer.write(bytes([index]) * 1000)
        await writer.abort()

    await asyncio.wait_for(asyncio.gather(*(aborted_upload(i) for i in range(20))), timeout=30)
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
    assert (tmp_path / "f").read_bytes() == DATA


def test_remove_partial_uploads_removes_stray_temporary_files(tmp_path: Path) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    deep = tmp_path / "deep" / "er"
    strays = [tmp_path / f".a.txt.0123abcd{PARTIAL_SUFFIX}", deep / f".b.ffff{PARTIAL_SUFFIX}"]
    keep = [tmp_path / "a.txt", tmp_path / f"visible{PARTIAL_SUFFIX}", tmp_path / ".profile",
            tmp_path / "deep" / "er" / "b"]  # fmt: skip
    for path in strays + keep:
        path.write_bytes(b"x")
    removed = LocalStorage(tmp_path).remove_partial_uploads()
    assert sorted(map(str, removed)) == sorted(map(str, strays))
    assert not any(path.exists() for path in strays)
    assert all(path.read_bytes() == b"x" for path in keep)


def test_remove_partial_uploads_does_not_follow_symlinks_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    foreign = outside / f".not-ours{PARTIAL_SUFFIX}"
    foreign.write_bytes(b"x")
    os.symlink(outside, root / "link")
    assert LocalStorage(root).remove_partial_uploads() == []
    assert foreign.exists()


async def test_a_fifo_is_refused_without_hanging(jail: Jail) -> None:
    storage, root, _outside = jail
    os.mkfifo(root / "pipe")  # nobody writes: a blocking open for reading would wait forever
    await asyncio.wait_for(assert_os_error(PermissionError, errno.EACCES, storage.open_read(P("/pipe"))), 5)


async def test_a_sibling_folder_sharing_the_roots_name_prefix_is_outside(tmp_path: Path) -> None:
    root, sibling = tmp_path / "root", tmp_path / "root-other"
    root.mkdir()
    sibling.mkdir()
    (sibling / "secret.txt").write_bytes(b"secret")
    (root / "link").symlink_to(sibling / "secret.txt")
    storage = LocalStorage(root)
    await assert_os_error(PermissionError, errno.EACCES, storage.open_read(P("/link")))
    await assert_os_error(PermissionError, errno.EACCES, storage.stat(P("/link")))


Jail = tuple[LocalStorage, Path, Path]
