"""`aioftp-lite-bench` as a user runs it: a subprocess measuring servers by URL (ours, as its
own process, and vsftpd where it can run), over real sockets, with every byte checked by the
load generator. Asserts what the report says and that the tool's work folder is gone after;
the numbers themselves are never judged, only that something was moved and counted."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from benchmarks import ratesearch

REPO = Path(__file__).resolve().parents[2]
TOOL = [sys.executable, "-m", "benchmarks.tool"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@contextmanager
def our_server(root: Path, *arguments: str) -> Iterator[tuple[int, int]]:
    """`aioftp-lite serve` as its own process: yields (port, pid)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "aioftp_lite", "serve", "--root", str(root), "--port", "0",
         "--log-level", "WARNING", *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 10)
        match = re.search(r"ftp://127\.0\.0\.1:(\d+)", process.stdout.readline() if ready else "")
        assert match, "the server did not start"
        yield int(match[1]), process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


def bench(*arguments: str, timeout: float = 60, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TOOL, *arguments], capture_output=True, text=True, timeout=timeout, env=ENV,
                          cwd=REPO, check=False, **options)  # fmt: skip


def rows(document: dict[str, Any], scenario: str) -> list[dict[str, Any]]:
    return [row for row in document["summary"] if row["scenario"] == scenario]


def test_measures_our_server_by_url_reports_json_and_png_and_cleans_up(tmp_path: Path) -> None:
    root, report, plot = tmp_path / "root", tmp_path / "report.json", tmp_path / "plot.png"
    (root / "pub").mkdir(parents=True)
    (root / "pub" / "keep.txt").write_text("the user's own file")
    with our_server(root, "--user", "bench:se cret") as (port, pid):
        done = bench(f"ftp://bench:se%20cret@127.0.0.1:{port}/pub", "--scenario", "many_small,conn_login,retr_big",
                     "--clients", "8", "--files", "3", "--duration", "0.5", "--size-mib", "4",
                     "--server-pid", str(pid), "--json", str(report), "--png", str(plot))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress line when standard error is not a terminal
    document = json.loads(report.read_text())
    assert "se cret" not in report.read_text() and "se%20cret" not in done.stdout
    assert document["servers"] == [{"url": f"ftp://bench@127.0.0.1:{port}/pub", "pid": pid}]
    assert document["scenarios"] == ["many_small", "conn_login", "retr_big"]
    assert {"date", "machine", "loadgen_loop", "command", "rounds"} <= set(document["meta"])
    for row in document["summary"]:
        assert row["errors"] == 0 and row["corrupt"] == 0, row
        assert row["server_cpu_s"] is not None and row["server_cpu_s"] >= 0, row
    (small,), (logins,), (big,) = (
        rows(document, "many_small"),
        rows(document, "conn_login"),
        rows(document, "retr_big"),
    )
    assert small["metrics"]["files/s"] > 0 and small["bytes"] == 8 * 3 * 64 * 1024
    assert small["logins"] == 8 and small["cpu_s_per_gib"] is not None
    assert logins["metrics"]["logins/s"] > 0 and logins["logins"] > 0 and logins["bytes"] == 0
    assert logins["cpu_s_per_1000_logins"] is not None and logins["cpu_s_per_gib"] is None
    assert big["metrics"]["MiB/s"] > 0 and big["bytes"] == 4 * 1024 * 1024
    assert "| many_small 8 clients x 3 files | files/s ↑ |" in done.stdout
    assert "| conn_login 8 clients, 0.5 s | server CPU s/1,000 logins ↓ |" in done.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The work folder went with everything in it; the user's own file stayed.
    assert sorted(path.name for path in root.rglob("*")) == ["keep.txt", "pub"]


def test_measures_vsftpd_in_an_upload_folder(vsftpd: tuple[int, Path], tmp_path: Path) -> None:
    port, root = vsftpd
    report = tmp_path / "vsftpd.json"
    pid = int(subprocess.run(["pgrep", "-o", "-f", str(tmp_path / "vsftpd.conf")], capture_output=True,
                             text=True, check=True, timeout=10).stdout.split()[0])  # fmt: skip
    done = bench(f"ftp://127.0.0.1:{port}/upload", "--scenario", "many_small,stor_big", "--clients", "10",
                 "--files", "5", "--size-mib", "8", "--server-pid", str(pid), "--json", str(report))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(report.read_text())
    (small,), (upload,) = rows(document, "many_small"), rows(document, "stor_big")
    assert small["errors"] == 0 and small["corrupt"] == 0 and small["metrics"]["files/s"] > 0
    assert upload["errors"] == 0 and upload["corrupt"] == 0 and upload["metrics"]["MiB/s"] > 0
    # vsftpd forks a process per session: its CPU arrives in the parent's cutime + cstime.
    # (Summed over both rows: one row of a C server can stay under the clock's 10 ms tick.)
    assert small["server_cpu_s"] is not None and small["server_cpu_s"] + upload["server_cpu_s"] > 0
    assert list((root / "upload").iterdir()) == []


def test_compare_interleaves_rounds_and_gives_ratios_against_the_first(tmp_path: Path) -> None:
    report = tmp_path / "compare.json"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with our_server(tmp_path / "a") as (port_a, pid_a), our_server(tmp_path / "b") as (port_b, pid_b):
        done = bench("--compare", f"ftp://127.0.0.1:{port_a}/", f"ftp://127.0.0.1:{port_b}/", "--rounds", "2",
                     "--scenario", "many_small", "--clients", "10", "--files", "10",  # CPU above one 10 ms tick
                     "--server-pid", str(pid_a), "--server-pid", str(pid_b), "--json", str(report))  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(report.read_text())
    assert [(run["round"], run["server"]) for run in document["runs"]] == [(0, 0), (0, 1), (1, 1), (1, 0)]
    first, second = rows(document, "many_small")
    assert [first["pid"], second["pid"]] == [pid_a, pid_b]
    for row in (first, second):
        assert row["errors"] == 0 and row["corrupt"] == 0 and row["metrics"]["files/s"] > 0
    assert first["ratios"]["files/s"] == pytest.approx(1.0)
    assert second["ratios"]["files/s"] == pytest.approx(
        second["metrics"]["files/s"] / first["metrics"]["files/s"]
    )
    assert second["ratios"]["p99 ms"] == pytest.approx(
        first["metrics"]["p99 ms"] / second["metrics"]["p99 ms"]
    )
    assert second["ratios"]["cpu_s_per_gib"] is not None
    line = next(line for line in done.stdout.splitlines() if "| files/s ↑ |" in line)
    assert re.search(r"\| [\d,.]+ \| [\d,.]+ \([\d.]+×\) \|$", line), line
    assert list((tmp_path / "a").iterdir()) == [] and list((tmp_path / "b").iterdir()) == []


def test_users_at_rate_finds_how_many_clients_a_capped_server_keeps_at_the_rate(tmp_path: Path) -> None:
    """Ours capped at 5 MB/s for all transfers together, clients reading at 1 MB/s each: about
    5 keep the rate, 8 cannot (the search ramps 1, 2, 4, 8, then bisects)."""
    report = tmp_path / "rate.json"
    (tmp_path / "root").mkdir()
    with our_server(tmp_path / "root", "--max-total-rate", "5000000") as (port, pid):
        done = bench(f"ftp://127.0.0.1:{port}/", "--scenario", "users_at_rate", "--rate", "8000",
                     "--clients", "8", "--duration", "1", "--server-pid", str(pid), "--json", str(report))  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = rows(json.loads(report.read_text()), "users_at_rate")
    (run,) = json.loads(report.read_text())["runs"]
    trials = run["result"]["trials"]
    assert [trial["clients"] for trial in trials[:4]] == [1, 2, 4, 8]
    assert trials[0]["passed"] and not trials[3]["passed"]
    assert 3 <= row["metrics"]["users"] <= 6, trials
    assert row["corrupt"] == 0 and row["cpu_s_per_gib"] is not None
    assert "users_at_rate 8000 kbit/s, up to 8" in done.stdout and "clients keeping the rate" in done.stdout
    assert list((tmp_path / "root").iterdir()) == []


def test_users_at_rate_reads_no_faster_than_the_rate(tmp_path: Path) -> None:
    """An uncapped server: every client keeps the rate, and no download of `duration` seconds'
    worth ends sooner (the throttled reader holds the server back)."""
    report = tmp_path / "rate.json"
    (tmp_path / "root").mkdir()
    with our_server(tmp_path / "root") as (port, _pid):
        done = bench(f"ftp://127.0.0.1:{port}/", "--scenario", "users_at_rate", "--rate", "800",
                     "--clients", "2", "--duration", "1", "--json", str(report))  # fmt: skip
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(report.read_text())["runs"]
    assert [(trial["clients"], trial["passed"]) for trial in run["result"]["trials"]] == [
        (1, True),
        (2, True),
    ]
    assert run["result"]["metrics"]["users"] == 2
    assert run["result"]["bytes"] == 3 * 100_000
    # A lower bound only (a slower machine is slower still): 100,000 bytes at 100,000 bytes/s.
    assert run["result"]["elapsed_s"] >= 2 * 0.95


def test_a_progress_line_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    primary, secondary = pty.openpty()
    with our_server(tmp_path / "root") as (port, _pid):
        process = subprocess.Popen([*TOOL, f"ftp://127.0.0.1:{port}/", "--scenario", "conn_login", "--clients", "2",
                                    "--duration", "1"], stdout=subprocess.PIPE, stderr=secondary, env=ENV, cwd=REPO)  # fmt: skip
        os.close(secondary)
        seen = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 1)
            try:
                chunk = os.read(primary, 4096) if ready else b""
            except OSError:  # the tool has closed its end
                break
            if ready and not chunk:
                break
            seen += chunk
        process.communicate(timeout=30)
        os.close(primary)
    assert process.returncode == 0
    assert re.search(rb"\r\[1/1, round 1/1\] conn_login 2 clients, 1 s: +[\d.]+ s, [\d,]+ ops", seen), seen


def test_bad_arguments_and_a_missing_matplotlib_exit_2(tmp_path: Path) -> None:
    for arguments, said in [
        (["ftp://127.0.0.1:1/", "--compare", "ftp://127.0.0.1:2/"], "give one URL, or --compare"),
        (["ftp://127.0.0.1:1/", "--scenario", "cold_login"], "unknown scenario 'cold_login'"),
        (["ftpes://127.0.0.1:1/"], "plain FTP only"),
        (["ftp://127.0.0.1:1/", "--server-pid", "1", "--server-pid", "2"], "2 --server-pid for 1 server"),
    ]:
        done = bench(*arguments)
        assert done.returncode == 2 and said in done.stderr, (arguments, done.stderr)
    without = (
        "import sys; sys.modules['matplotlib'] = None; from benchmarks.tool import main; sys.exit(main())"
    )
    done = subprocess.run([sys.executable, "-c", without, "ftp://127.0.0.1:1/", "--png", str(tmp_path / "x.png")],
                          capture_output=True, text=True, timeout=30, env=ENV, cwd=REPO, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "--png needs matplotlib, which is not installed" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_server_is_one_line_and_status_1(tmp_path: Path) -> None:
    with our_server(tmp_path) as (port, _pid):
        pass  # the port is free again
    done = bench(f"ftp://127.0.0.1:{port}/", "--scenario", "many_small", "--clients", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("aioftp-lite-bench: ") and len(done.stderr.strip().splitlines()) == 1


async def test_the_search_ramps_then_bisects() -> None:
    for capacity, upper in [(0, 10), (1, 10), (5, 16), (7, 16), (16, 16), (40, 16), (3, 3), (12, 100)]:
        tried: list[int] = []

        async def passes(count: int, tried: list[int] = tried, capacity: int = capacity) -> bool:
            tried.append(count)
            return count <= capacity

        assert await ratesearch.most_users(passes, upper) == min(capacity, upper)
        ramp, count = [], 1
        while True:  # doubling until a trial fails or the upper bound passed
            ramp.append(count)
            if count > capacity or count == upper:
                break
            count = min(2 * count, upper)
        assert tried[: len(ramp)] == ramp, (capacity, upper, tried)
        assert len(tried) <= 2 * upper.bit_length() + 1


def test_the_console_script_is_declared_and_benchmarks_is_packaged() -> None:
    import tomllib

    from setuptools import find_packages

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["aioftp-lite-bench"] == "benchmarks.tool:main"
    found = find_packages(str(REPO), include=project["tool"]["setuptools"]["packages"]["find"]["include"])
    assert "benchmarks" in found
    assert "matplotlib>=3.7" in project["project"]["optional-dependencies"]["bench"]
