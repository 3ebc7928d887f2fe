"""Files and trees for transfer tests: deterministic contents, checksums, snapshots."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

PARTIAL = re.compile(r"^\..*\.aioftp-part$")


def partial_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if PARTIAL.match(path.name))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def payload(size: int, seed: int) -> bytes:
    """Deterministic bytes that are not one repeated pattern (so an offset bug shows)."""
    block = hashlib.sha256(seed.to_bytes(4, "big")).digest()
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(block + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


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


def make_tree(base: Path) -> dict[str, bytes]:
    files = {
        "a.txt": os.urandom(30_000),
        "empty.bin": b"",
        "sub dir/b.bin": os.urandom(200_000),
        "sub dir/deeper/c.txt": os.urandom(5_000),
        "été/d.txt": b"accents\n",
    }
    (base / "empty folder").mkdir(parents=True)
    for index, (relative, data) in enumerate(sorted(files.items())):
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (OLD + index * 3600, OLD + index * 3600))
    return files


def snapshot(base: Path) -> dict[str, tuple[str, int]]:
    """Every file under `base`: checksum and whole-second time; folders with None."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted(base.rglob("*")):
        relative = path.relative_to(base).as_posix()
        if path.is_dir():
            found[relative + "/"] = ("", 0)
        else:
            found[relative] = (hashlib.sha256(path.read_bytes()).hexdigest(), int(path.stat().st_mtime))
    return found


OLD = 1_600_000_000  # 2020-09-13: far from "now", so a time that was not kept shows
