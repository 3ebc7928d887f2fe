"""The storage interface: the same tests on the local (aiofiles) and the in-memory backend.

Both backends must raise the same OS error types with the same errno, since the server
maps errno to a reply in one table and cannot tell the backends apart. What only the
local backend has (real symlinks, the jail, temporary upload files): test_storage_local.py.
"""

from __future__ import annotations

import errno
import hashlib
import time
from pathlib import Path

import pytest

from aioftp_lite.storage import LocalStorage, MemoryStorage, Storage, WriteMode
from tests.support.s3 import fresh_prefix
from tests.support.storage import (
    CHUNK,
    DATA,
    P,
    assert_os_error,
    names,
    read_chunks,
    read_file,
    write_file,
)


@pytest.fixture(params=["local", "local-threaded-open", "memory", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "s3":  # a fresh prefix of the session's SeaweedFS bucket
        from aioftp_lite.storage.s3 import S3Storage

        return S3Storage(request.getfixturevalue("s3_client"), fresh_prefix(), chunk_size=CHUNK)
    if request.param.startswith("local"):
        root = tmp_path / "root"
        root.mkdir()
        # Opens run inline on a local file system; the worker-thread way (network file systems) too.
        return LocalStorage(
            root, chunk_size=CHUNK, open_inline=False if "threaded" in request.param else None
        )
    return MemoryStorage(chunk_size=CHUNK)


# --- metadata -----------------------------------------------------------------------------


async def test_stat_root_and_file(storage: Storage) -> None:
    root = await storage.stat(P("/"))
    assert root.is_dir and root.name == "/"
    before = time.time()
    await write_file(storage, "/a.bin", DATA)
    info = await storage.stat(P("/a.bin"))
    assert (info.name, info.is_dir, info.size) == ("a.bin", False, len(DATA))
    assert before - 2 <= info.mtime <= time.time() + 2
    assert info.unique and info.unique != root.unique
    assert await storage.exists(P("/a.bin")) and not await storage.is_dir(P("/a.bin"))
    assert not await storage.exists(P("/missing")) and not await storage.is_dir(P("/missing"))
    assert not await storage.exists(P("/a.bin/below"))


async def test_list_dir(storage: Storage) -> None:
    assert await names(storage) == set()
    await storage.mkdir(P("/docs"))
    await write_file(storage, "/docs/one.txt", b"1")
    await write_file(storage, "/docs/two words é.txt", b"22")
    await write_file(storage, "/.hidden", b"")  # the server hides dotfiles, not the storage
    assert await names(storage) == {"docs", ".hidden"}
    listing = {info.name: info for info in await storage.list_dir(P("/docs"))}
    assert set(listing) == {"one.txt", "two words é.txt"}
    assert listing["two words é.txt"].size == 2 and not listing["one.txt"].is_dir
    assert (await storage.stat(P("/docs"))).is_dir


async def test_list_dir_errors(storage: Storage) -> None:
    await write_file(storage, "/file", b"x")
    await assert_os_error(FileNotFoundError, errno.ENOENT, storage.list_dir(P("/missing")))
    await assert_os_error(NotADirectoryError, errno.ENOTDIR, storage.list_dir(P("/file")))
    await assert_os_error(FileNotFoundError, errno.ENOENT, storage.stat(P("/missing")))
    await assert_os_error(NotADirectoryError, errno.ENOTDIR, storage.stat(P("/file/below")))


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 1, CHUNK, 500, len(DATA) - 1, len(DATA), len(DATA) + 10])
async def test_open_read_from_an_offset_in_bounded_chunks(storage: Storage, offset: int) -> None:
    await write_file(storage, "/a.bin", DATA)
    chunks = await read_chunks(storage, "/a.bin", offset)
    assert all(0 < len(chunk) <= CHUNK for chunk in chunks)
    assert b"".join(chunks) == DATA[offset:]


async def test_open_read_errors(storage: Storage) -> None:
    await storage.mkdir(P("/dir"))
    await write_file(storage, "/file", b"x")
    await assert_os_error(FileNotFoundError, errno.ENOENT, storage.open_read(P("/missing")))
    await assert_os_error(IsADirectoryError, errno.EISDIR, storage.open_read(P("/dir")))
    await assert_os_error(NotADirectoryError, errno.ENOTDIR, storage.open_read(P("/file/x")))


async def test_empty_file(storage: Storage) -> None:
    await write_file(storage, "/empty", b"")
    assert (await storage.stat(P("/empty"))).size == 0
    assert await read_chunks(storage, "/empty") == []


# --- writing ------------------------------------------------------------------------------


async def test_replace_is_invisible_until_commit(storage: Storage) -> None:
    old = b"old content " * 10
    await write_file(storage, "/f.txt", old)
    listing_before = await names(storage)
    writer = await storage.open_write(P("/f.txt"))
    await writer.write(b"new content, longer than anything before " * 10)
    assert await read_file(storage, "/f.txt") == old
    assert (await storage.stat(P("/f.txt"))).size == len(old)
    assert await names(storage) == listing_before  # no temporary file shows
    await writer.commit()
    assert await read_file(storage, "/f.txt") == b"new content, longer than anything before " * 10
    assert await names(storage) == listing_before


async def test_replace_abort_leaves_the_old_file_byte_identical(storage: Storage) -> None:
    await write_file(storage, "/f.bin", DATA)
    digest = hashlib.sha256(DATA).hexdigest()
    writer = await storage.open_write(P("/f.bin"))
    await writer.write(b"half of a new upload")
    await writer.abort()
    assert hashlib.sha256(await read_file(storage, "/f.bin")).hexdigest() == digest
    assert await names(storage) == {"f.bin"}
    await writer.abort()  # a second abort is harmless


async def test_replace_of_a_new_file_shows_nothing_until_commit(storage: Storage) -> None:
    writer = await storage.open_write(P("/new.txt"))
    await writer.write(b"data")
    assert not await storage.exists(P("/new.txt"))
    assert await names(storage) == set()
    await writer.abort()
    assert await names(storage) == set()
    await write_file(storage, "/new.txt", b"data")
    assert await read_file(storage, "/new.txt") == b"data"


async def test_reader_opened_before_a_replace_keeps_the_old_content(storage: Storage) -> None:
    await write_file(storage, "/f", DATA)
    reader = await storage.open_read(P("/f"))
    first = await reader.read_chunk()
    await write_file(storage, "/f", b"replaced")
    rest = []
    for _ in range(1000):
        chunk = await reader.read_chunk()
        if not chunk:
            break
        rest.append(chunk)
    await reader.close()
    assert first + b"".join(rest) == DATA
    assert await read_file(storage, "/f") == b"replaced"


async def test_append(storage: Storage) -> None:
    await write_file(storage, "/log", b"first\n")
    await write_file(storage, "/log", b"second\n", WriteMode.APPEND)
    assert await read_file(storage, "/log") == b"first\nsecond\n"
    await write_file(storage, "/fresh", b"created by APPE", WriteMode.APPEND)
    assert await read_file(storage, "/fresh") == b"created by APPE"


async def test_append_abort_keeps_what_arrived(storage: Storage) -> None:
    await write_file(storage, "/log", b"first\n")
    writer = await storage.open_write(P("/log"), WriteMode.APPEND)
    await writer.write(b"partial")
    await writer.abort()
    assert await read_file(storage, "/log") == b"first\npartial"


async def test_resume_truncates_at_the_end_of_the_written_data(storage: Storage) -> None:
    await write_file(storage, "/f", b"0123456789")
    await write_file(storage, "/f", b"ab", WriteMode.RESUME, offset=4)
    assert await read_file(storage, "/f") == b"0123ab"


async def test_resume_that_extends_the_file(storage: Storage) -> None:
    await write_file(storage, "/f", b"0123")
    await write_file(storage, "/f", b"456789", WriteMode.RESUME, offset=4)
    assert await read_file(storage, "/f") == b"0123456789"


async def test_resume_past_the_end_fills_the_gap_with_zero_bytes(storage: Storage) -> None:
    await write_file(storage, "/f", b"abc")
    await write_file(storage, "/f", b"x", WriteMode.RESUME, offset=5)
    assert await read_file(storage, "/f") == b"abc\0\0x"
    await write_file(storage, "/new", b"y", WriteMode.RESUME, offset=2)
    assert await read_file(storage, "/new") == b"\0\0y"


async def test_resume_abort_keeps_what_arrived_and_nothing_after_it(storage: Storage) -> None:
    # The client resumes again from SIZE, so the size must say how much really arrived.
    await write_file(storage, "/f", b"0123456789")
    writer = await storage.open_write(P("/f"), WriteMode.RESUME, offset=2)
    await writer.write(b"AB")
    await writer.abort()
    assert await read_file(storage, "/f") == b"01AB"


async def test_open_write_errors(storage: Storage) -> None:
    await storage.mkdir(P("/dir"))
    await write_file(storage, "/file", b"x")
    for mode in WriteMode:
        await assert_os_error(FileNotFoundError, errno.ENOENT, storage.open_write(P("/missing/f"), mode))
        await assert_os_error(IsADirectoryError, errno.EISDIR, storage.open_write(P("/dir"), mode))
        await assert_os_error(NotADirectoryError, errno.ENOTDIR, storage.open_write(P("/file/f"), mode))
    assert await names(storage) == {"dir", "file"}


# --- folders, removal, renaming -------------------------------------------------------------


async def test_mkdir_and_rmdir(storage: Storage) -> None:
    await storage.mkdir(P("/a"))
    await storage.mkdir(P("/a/b"))
    assert await storage.is_dir(P("/a/b"))
    await storage.rmdir(P("/a/b"))
    await storage.rmdir(P("/a"))
    assert await names(storage) == set()


async def test_mkdir_errors(storage: Storage) -> None:
    await storage.mkdir(P("/a"))
    await write_file(storage, "/file", b"x")
    await assert_os_error(FileExistsError, errno.EEXIST, storage.mkdir(P("/a")))
    await assert_os_error(FileExistsError, errno.EEXIST, storage.mkdir(P("/file")))
    await assert_os_error(FileExistsError, errno.EEXIST, storage.mkdir(P("/")))
    await assert_os_error(FileNotFoundError, errno.ENOENT, storage.mkdir(P("/missing/b")))
    await assert_os_error(NotADirectoryError, errno.ENOTDIR, storage.mkdir(P("/file/b")))


async def test_rmdir_errors(storage: Storage) -> None:
    await storage.mkdir(P("/full"))
    await write_file(storage, "/full/inside", b"x")
    await write_file(storage, "/file", b"x")
    await assert_os_error(OSError, errno.ENOTEMPTY, storage.rmdir(P("/full")))
    await assert_os_error(NotADirectoryError, errno.ENOTDIR, storage.rmdir(P("/file")))
    await assert_os_error(FileNotFoundError, errno.ENOENT, storage.rmdir(P("/missing")))
    await assert_os_error(PermissionError, errno.EACCES, storage.rmdir(P("/")))
    assert await read_file(storage, "/full/inside") == b"x"


async def test_remove(storage: Storage) -> None:
    await write_file(storage, "/f", b"x")
    await storage.remove(P("/f"))
    assert await names(storage) == set()


async def test_remove_errors(storage: Storage) -> None:
    await storage.mkdir(P("/dir"))
    await write_file(storage, "/file", b"x")
    await assert_os_error(IsADirectoryError, errno.EISDIR, storage.remove(P("/dir")))
    await assert_os_error(FileNotFoundError, errno.ENOENT, storage.remove(P("/missing")))
    await assert_os_error(NotADirectoryError, errno.ENOTDIR, storage.remove(P("/file/x")))
    await assert_os_error(PermissionError, errno.EACCES, storage.remove(P("/")))
    assert await names(storage) == {"dir", "file"}


async def test_rename_file_and_folder(storage: Storage) -> None:
    await storage.mkdir(P("/src"))
    await write_file(storage, "/src/f", DATA)
    await storage.rename(P("/src/f"), P("/g"))
    if not storage.can_rename_folders:  # object storage: refused, with the reason, and nothing moved
        await assert_os_error(PermissionError, errno.EACCES, storage.rename(P("/src"), P("/dst")))
        assert await names(storage) == {"g", "src"}
        return
    await storage.rename(P("/src"), P("/dst"))
    assert await names(storage) == {"g", "dst"}
    assert await read_file(storage, "/g") == DATA
    await storage.rename(P("/g"), P("/dst/h"))
    assert await names(storage, "/dst") == {"h"}


async def test_rename_over_an_existing_file_replaces_it(storage: Storage) -> None:
    await write_file(storage, "/a", b"AAA")
    await write_file(storage, "/b", b"BBBBBB")
    await storage.rename(P("/a"), P("/b"))
    assert await names(storage) == {"b"}
    assert await read_file(storage, "/b") == b"AAA"


async def test_rename_folder_over_an_empty_folder_replaces_it(storage: Storage) -> None:
    await storage.mkdir(P("/a"))
    await write_file(storage, "/a/f", b"x")
    await storage.mkdir(P("/empty"))
    if not storage.can_rename_folders:  # object storage: refused, and both folders as they were
        with pytest.raises(OSError):
            await storage.rename(P("/a"), P("/empty"))
        assert await names(storage) == {"a", "empty"}
        assert await names(storage, "/a") == {"f"}
        return
    await storage.rename(P("/a"), P("/empty"))
    assert await names(storage) == {"empty"}
    assert await names(storage, "/empty") == {"f"}


async def test_rename_onto_itself_changes_nothing(storage: Storage) -> None:
    await storage.mkdir(P("/dir"))
    await write_file(storage, "/f", b"x")
    await storage.rename(P("/f"), P("/f"))
    await storage.rename(P("/dir"), P("/dir"))
    assert await names(storage) == {"dir", "f"}
    assert await read_file(storage, "/f") == b"x"


async def test_rename_errors(storage: Storage) -> None:
    await storage.mkdir(P("/dir"))
    await storage.mkdir(P("/full"))
    await write_file(storage, "/full/inside", b"x")
    await write_file(storage, "/file", b"x")
    await assert_os_error(FileNotFoundError, errno.ENOENT, storage.rename(P("/missing"), P("/x")))
    await assert_os_error(FileNotFoundError, errno.ENOENT, storage.rename(P("/file"), P("/missing/x")))
    await assert_os_error(IsADirectoryError, errno.EISDIR, storage.rename(P("/file"), P("/dir")))
    await assert_os_error(NotADirectoryError, errno.ENOTDIR, storage.rename(P("/dir"), P("/file")))
    await assert_os_error(OSError, errno.ENOTEMPTY, storage.rename(P("/dir"), P("/full")))
    await assert_os_error(OSError, errno.EINVAL, storage.rename(P("/dir"), P("/dir/sub")))
    await assert_os_error(PermissionError, errno.EACCES, storage.rename(P("/"), P("/x")))
    assert await names(storage) == {"dir", "full", "file"}
    assert await names(storage, "/full") == {"inside"}


# --- local backend only: real files, symlinks, the jail --------------------------------------
