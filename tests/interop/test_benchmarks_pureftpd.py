"""pure-ftpd in the benchmarks: Debian's package unpacked privately (benchmarks/pureftpd.py),
its virtual user `bench` from a PureDB file, started as the runner starts it; then one short
scenario of the runner itself. Skipped (with the reason) where the package cannot be fetched
or pure-ftpd cannot run (not root)."""

from __future__ import annotations

import ftplib
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import pureftpd, servers
from benchmarks.scenario_kit import NAMED_PASSWORD, NAMED_USER, UPLOAD_DIR

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("psutil", reason="the runner measures server memory with psutil")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """pure-ftpd serving `root` as the runner starts it: (port, root)."""
    if missing := pureftpd.missing():
        pytest.skip(missing)
    root = tmp_path / "root"
    (root / UPLOAD_DIR).mkdir(parents=True)
    root.chmod(0o755)
    (root / "readme.txt").write_bytes(b"served\n")
    spec = servers.SERVERS["pure-ftpd"]
    spec.prepare(root)
    server = servers.start(spec, root, tmp_path, cpu=None)
    try:
        yield server.port, root
    finally:
        server.stop()


def _retr(client: ftplib.FTP, path: str) -> bytes:
    received = io.BytesIO()
    client.retrbinary(f"RETR {path}", received.write)
    return received.getvalue()


def test_named_user_stores_overwrites_and_deletes(running: tuple[int, Path]) -> None:
    port, root = running
    first, second = bytes(range(256)) * 4096, b"replaced " * 1000  # 1 MiB, then a shorter file
    path = f"{UPLOAD_DIR}/round.bin"
    with ftplib.FTP() as client:
        client.connect("127.0.0.1", port, timeout=10)
        client.login(NAMED_USER, NAMED_PASSWORD)
        assert _retr(client, "readme.txt") == b"served\n"  # chrooted to the root
        client.storbinary(f"STOR {path}", io.BytesIO(first))
        assert hashlib.sha256(_retr(client, path)).digest() == hashlib.sha256(first).digest()
        client.storbinary(f"STOR {path}", io.BytesIO(second))  # an anonymous user may not overwrite
        assert (root / path).read_bytes() == second
        assert hashlib.sha256(_retr(client, path)).digest() == hashlib.sha256(second).digest()
        assert client.delete(path).startswith("250")  # nor delete
        assert not (root / path).exists()
        with pytest.raises(ftplib.error_perm, match="^550"):
            _retr(client, path)
        client.quit()


def test_runner_measures_pure_ftpd_without_errors(tmp_path: Path) -> None:
    if missing := pureftpd.missing():
        pytest.skip(missing)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.runner", "--quick", "--servers", "pure-ftpd", "--scenarios", "mixed",
         "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"runner failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    document = json.loads((tmp_path / "latest.json").read_text())
    (entry,) = document["measurements"]
    assert (entry["variant"].split()[0], entry["server"]) == ("mixed", "pure-ftpd")
    result = entry["result"]
    assert result["error_count"] == 0 and result["corrupt"] == 0, result
    assert result["ops"] > 0 and result["metrics"]["ops/s"] > 0, result
    assert document["meta"]["versions"]["pure-ftpd"] == pureftpd.version() != "not unpacked"
    assert "| mixed 20 clients | ops/s" in (tmp_path / "latest.md").read_text()
