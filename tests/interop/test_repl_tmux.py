"""The REPL in a real terminal: tmux runs the client, we type keys and read the screen.

The server runs on the test's event loop (downloads of `slow.bin` are throttled so
that Ctrl-C can land mid-transfer). tmux uses a private socket (-L) and only that
tmux server is killed at the end. The screen captured after Tab is printed and saved
to /work/helper-notes/tmux-screen.txt.
"""

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
from tests.support.clients import PASSWORD, USER
from tests.support.files import sha
from tests.support.processes import PROJECT
from tests.support.storage import SlowReader
from tests.support.tools import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

SCREEN_NOTE = Path("/work/helper-notes/tmux-screen.txt")


class SlowForOneFile(LocalStorage):
    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        reader = await super().open_read(path, offset)
        return SlowReader(reader) if path.name == "slow.bin" else reader


async def test_tab_completion_and_ctrl_c_in_a_real_terminal(root: Path, tmp_path: Path) -> None:
    (root / "report-2024.txt").write_bytes(os.urandom(20_000))
    (root / "notes.md").write_text("notes\n")
    (root / "docs").mkdir()
    (root / "slow.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    local = tmp_path / "local"
    local.mkdir()
    factory = lambda account: SlowForOneFile(account.home, chunk_size=64 * 1024)
    async with Server(root=root, host="127.0.0.1", port=0, storage_factory=factory) as server:
        command = shlex.join([
            "env", f"XDG_DATA_HOME={tmp_path / 'data'}", f"PYTHONPATH={PROJECT}", "TERM=xterm-256color",
            sys.executable, "-m", "client", f"ftp://127.0.0.1:{server.port}",
        ])  # fmt: skip
        tmux = Tmux(f"aioftp-lite-test-{os.getpid()}")
        await tmux.start("-x", "100", "-y", "24", "-c", str(local), command)
        try:
            prompt = re.compile(
                rf"^127\.0\.0\.1:{server.port}:/>$", re.MULTILINE
            )  # (tmux trims the trailing space)
            await tmux.wait_for(lambda screen: prompt.search(screen) is not None)
            await tmux("send-keys", "-t", "repl", "-l", "get re")
            await tmux("send-keys", "-t", "repl", "Tab")
            completed = await tmux.wait_for(lambda screen: "get report-2024.txt" in screen)
            print("\n--- tmux screen after typing `get re` and Tab ---\n" + completed.rstrip())

            await tmux("send-keys", "-t", "repl", "Enter")
            await tmux.wait_for(lambda screen: "got report-2024.txt: 19.5 KiB in " in screen)
            assert sha(local / "report-2024.txt") == sha(root / "report-2024.txt")

            # Ctrl-C during a transfer: ABOR, one line, and the prompt is back, still connected.
            await tmux("send-keys", "-t", "repl", "-l", "get slow.bin")
            await tmux("send-keys", "-t", "repl", "Enter")
            bar = re.compile(r"slow\.bin \[=*>? *\] +(\d+)% .* ETA")
            percent = lambda screen: int((bar.findall(screen) or ["0"])[-1])
            transferring = await tmux.wait_for(lambda screen: percent(screen) >= 15)  # (so some is on disk)
            print("\n--- during `get slow.bin` ---\n" + transferring.rstrip())
            await tmux("send-keys", "-t", "repl", "C-c")
            await tmux.wait_for(lambda screen: "get slow.bin: interrupted at " in screen)
            await tmux("send-keys", "-t", "repl", "-l", "pwd")
            await tmux("send-keys", "-t", "repl", "Enter")
            final = await tmux.wait_for(lambda screen: re.search(r"^/$", screen, re.MULTILINE) is not None)
            print("\n--- after Ctrl-C during `get slow.bin`, then `pwd` ---\n" + final.rstrip())
            assert 0 < (local / "slow.bin").stat().st_size < 4 * 1024 * 1024

            await tmux("send-keys", "-t", "repl", "-l", "quit")
            await tmux("send-keys", "-t", "repl", "Enter")
            async with asyncio.timeout(10):
                while await tmux.alive():
                    await asyncio.sleep(0.05)
        finally:
            await tmux.stop()  # only our private tmux server
    if SCREEN_NOTE.parent.is_dir():
        SCREEN_NOTE.write_text(
            "$ aioftp-lite-client ftp://127.0.0.1:PORT   (tmux 100x24; typed `get re` then Tab)\n\n"
            + completed.rstrip() + "\n\n--- later: `get slow.bin` in progress ---\n\n"
            + transferring.rstrip() + "\n\n--- then Ctrl-C, and `pwd` ---\n\n"
            + final.rstrip() + "\n"
        )  # fmt: skip


async def test_the_password_is_asked_on_the_terminal(server: Server, tmp_path: Path) -> None:
    command = shlex.join([
        "env", f"XDG_DATA_HOME={tmp_path / 'data'}", f"PYTHONPATH={PROJECT}", "TERM=xterm-256color",
        sys.executable, "-m", "client", f"ftp://{USER}@127.0.0.1:{server.port}",
    ])  # fmt: skip
    tmux = Tmux(f"aioftp-lite-test-{os.getpid()}-password")
    await tmux.start("-x", "100", "-y", "10", "-c", str(tmp_path), command)
    try:
        await tmux.wait_for(lambda screen: f"Password for {USER}@127.0.0.1:{server.port}:" in screen)
        await tmux("send-keys", "-t", "repl", "-l", PASSWORD)
        await tmux("send-keys", "-t", "repl", "Enter")
        screen = await tmux.wait_for(lambda screen: f"{USER}@127.0.0.1:{server.port}:/>" in screen)
        assert f"connected to {USER}@127.0.0.1:{server.port} as {USER}, in /" in screen
        assert PASSWORD not in screen  # typed without echo
        await tmux("send-keys", "-t", "repl", "C-d")  # Ctrl-D leaves, like quit
        async with asyncio.timeout(10):
            while await tmux.alive():
                await asyncio.sleep(0.05)
    finally:
        await tmux.stop()
