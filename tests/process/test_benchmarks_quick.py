"""The benchmark's quick mode as CI's regression guard: ours and pyftpdlib, every scenario
in small sizes, over real sockets (ours with `--workers 2` too, in many_small only; cold_login
is ours only: pyftpdlib keeps plain-text passwords). It fails on errors or lost/corrupted data, never on
timing (the runner's exit status says so; the numbers are printed, not judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("pyftpdlib", reason="the quick benchmark compares with pyftpdlib (pip install '.[test]')")
pytest.importorskip("psutil", reason="the quick benchmark measures server memory with psutil")


def test_quick_benchmark_runs_every_scenario_without_errors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.runner", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=90,  # under a minute, with room for other work sharing the cores
    )
    assert done.returncode == 0, f"quick benchmark failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    document = json.loads((tmp_path / "latest.json").read_text())
    table = (tmp_path / "latest.md").read_text()
    assert table.count("| many_small") >= 3
    assert "many_small: aioftp_lite --workers 2 against aioftp_lite" in table
    assert "| conn_login named 10 clients | logins/s" in table  # the named user's row beside anonymous
    measured = {(m["variant"].split()[0], m["server"]) for m in document["measurements"]}
    scenarios = {"retr_big", "stor_big", "many_small", "conn_login", "idle_conns", "mixed", "login_flood"}
    expected = {(s, server) for s in scenarios for server in ("aioftp_lite", "pyftpdlib")}
    assert measured == expected | {("many_small", "aioftp_lite_w2"), ("cold_login", "aioftp_lite")}
    for entry in document["measurements"]:
        result = entry["result"]
        assert result["error_count"] == 0 and result["corrupt"] == 0, entry
        assert result["ops"] > 0, entry  # something was really moved, checked and counted
        assert all(value > 0 for value in result["metrics"].values()), entry
    # The saved JSON is enough to write the table again (`python -m benchmarks.report FILE`).
    saved_table = table
    (tmp_path / "latest.md").unlink()
    again = subprocess.run([sys.executable, "-m", "benchmarks.report", str(tmp_path / "latest.json")],
                           cwd=REPO, capture_output=True, text=True, check=False, timeout=30)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "latest.md").read_text() == saved_table
