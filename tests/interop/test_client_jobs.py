"""Background jobs through batch mode (`CMD &`, jobs, kill, queue; batch waits for jobs) and, in
a real terminal (tmux), a job beside a usable prompt with the toolbar, quit asking first, fg,
pget's bar, and a reconnect after the server went away."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import sys
from pathlib import Path, PurePosixPath

import pytest

from aioftp_lite import LocalStorage, Server
from aioftp_lite.storage.base import FileReader
from tests.support.files import sha
from tests.support.processes import PROJECT, run_client
from tests.support.storage import SlowReader
from tests.support.tools import Tmux


class SlowBig(LocalStorage):
    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        reader = await super().open_read(path, offset)
        return SlowReader(reader) if path.name.startswith("big") else reader


@pytest.fixture
async def slow(root: Path):  # type: ignore[no-untyped-def]
    (root / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    (root / "a.txt").write_bytes(os.urandom(3000))
    (root / "b.txt").write_bytes(os.urandom(4000))
    factory = lambda account: SlowBig(account.home, chunk_size=64 * 1024)
    async with Server(root=root, host="127.0.0.1", port=0, storage_factory=factory) as running:
        yield running


async def test_a_background_get_beside_other_commands(slow: Server, root: Path, tmp_path: Path) -> None:
    url = f"ftp://127.0.0.1:{slow.port}"
    status, out, err = await run_client(url, "-c", "get big.bin &; get a.txt; jobs", cwd=tmp_path)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "[1] get big.bin &" and lines[1].startswith("got a.txt: ")
    assert re.match(r"\[1\] running get big\.bin +\d+% [\d.]+ (B|KiB|MiB)/2\.0 MiB ", lines[2])
    assert "[1] done: get big.bin" in lines[-1] and any(
        line.startswith("[1] got big.bin: ") for line in lines
    )
    assert sha(tmp_path / "big.bin") == sha(root / "big.bin")  # batch mode waited for the job


async def test_queue_kill_and_what_cannot_go_to_the_background(
    slow: Server, root: Path, tmp_path: Path
) -> None:
    url = f"ftp://127.0.0.1:{slow.port}"
    status, out, err = await run_client(url, "-c", "queue get a.txt; queue get b.txt; queue", cwd=tmp_path)
    assert (status, err) == (0, "")
    assert "[1] queued: get b.txt" in out and "[1] done: get b.txt" in out
    assert out.index("[1] got a.txt") < out.index("[1] got b.txt")
    assert sha(tmp_path / "b.txt") == sha(root / "b.txt")
    status, out, err = await run_client(url, "-c", "get big.bin &; kill 1; jobs", cwd=tmp_path / "..")
    assert status == 1  # a killed job is a failed job
    assert "[1] killed" in out and re.search(r"^\[1\] failed +get big\.bin", out, re.MULTILINE)
    status, _, err = await run_client(url, "-c", "cd / &", cwd=tmp_path)
    assert status == 1 and "only transfers run in the background" in err


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_jobs_pget_and_reconnect_in_a_real_terminal(root: Path, tmp_path: Path) -> None:
    (root / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    (root / "big2.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    local = tmp_path / "local"
    local.mkdir()
    factory = lambda account: SlowBig(account.home, chunk_size=64 * 1024)
    server = Server(root=root, host="127.0.0.1", port=0, storage_factory=factory)
    await server.start()
    port = server.port
    command = shlex.join([
        "env", f"XDG_DATA_HOME={tmp_path / 'data'}", f"PYTHONPATH={PROJECT}", "TERM=xterm-256color",
        sys.executable, "-m", "client", f"ftp://127.0.0.1:{port}", "--keepalive", "0.5",
    ])  # fmt: skip
    tmux = Tmux(f"aioftp-lite-test-{os.getpid()}-jobs")
    await tmux.start("-x", "110", "-y", "30", "-c", str(local), command)

    async def type_line(text: str) -> None:
        await tmux("send-keys", "-t", "repl", "-l", text)
        await tmux("send-keys", "-t", "repl", "Enter")

    try:
        await tmux.wait_for(lambda screen: f"127.0.0.1:{port}:/>" in screen)
        await type_line("get big.bin &")
        await tmux.wait_for(lambda screen: "[1] get big.bin &" in screen)
        await type_line("pwd")  # the prompt is free while the job runs
        running = await tmux.wait_for(lambda screen: re.search(r"^/$", screen, re.MULTILINE) is not None
                                      and re.search(r"│ 1 job [\d.]+ (B|KiB|MiB)/s", screen) is not None)  # fmt: skip
        await type_line("jobs")
        await tmux.wait_for(
            lambda screen: re.search(r"\[1\] running get big\.bin +\d+% ", screen) is not None
        )
        await type_line("quit")  # asks first
        await tmux.wait_for(lambda screen: "1 job(s) running: stop them and quit? [y/N]" in screen)
        await type_line("n")
        await type_line("fg 1")
        await tmux.wait_for(lambda screen: "[1] done: get big.bin" in screen, timeout=20)
        assert sha(local / "big.bin") == sha(root / "big.bin")

        # pget's bar, then the server goes away and comes back: the next command reconnects.
        await type_line("pget -n 3 big2.bin")
        bar = await tmux.wait_for(
            lambda screen: re.search(r"big2\.bin \[=*>? *\] +\d+% ", screen) is not None
        )
        await tmux.wait_for(
            lambda screen: "matches the server's" in screen or "size checked" in screen, timeout=20
        )
        assert sha(local / "big2.bin") == sha(root / "big2.bin")
        await server.close(timeout=0)
        await tmux.wait_for(lambda screen: f"disconnected from 127.0.0.1:{port}" in screen)
        server = Server(root=root, host="127.0.0.1", port=port)
        await server.start()
        await type_line("pwd")
        reconnected = re.compile(rf"reconnecting to 127\.0\.0\.1:{port}…\nconnected to 127\.0\.0\.1:{port} as "
                                 r"anonymous, in /\n/\n")  # fmt: skip
        final = await tmux.wait_for(lambda screen: reconnected.search(screen) is not None)
        print("\n--- a job running, the prompt free ---\n" + running.rstrip())
        print("\n--- pget ---\n" + bar.rstrip() + "\n\n--- reconnected ---\n" + final.rstrip())
        await type_line("quit")
        async with asyncio.timeout(10):
            while await tmux.alive():
                await asyncio.sleep(0.05)
    finally:
        await tmux.stop()
        await server.close()
