"""The REPL end to end: keys typed through prompt_toolkit's pipe input, against a real server task.

Each test checks the files on disk (with checksums) on both sides, not just the
REPL's output.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path, PurePosixPath

import pytest
from prompt_toolkit.history import InMemoryHistory

from aioftp_lite import LocalStorage, Server
from aioftp_lite.storage.base import FileReader
from client.repl import open_history, redact, toolbar
from tests.support.files import sha
from tests.support.repl import running_repl, until
from tests.support.storage import SlowReader

SUMMARY = re.compile(
    r"^(got|sent) (\S+): [\d.]+ (B|KiB|MiB) in [\d.]+ m?s \([\d.]+ (B|KiB|MiB|GiB)/s\)", re.MULTILINE
)


@pytest.fixture
def local(tmp_path: Path) -> Path:
    folder = tmp_path / "local"
    folder.mkdir()
    return folder


@pytest.fixture
def tree(root: Path) -> Path:
    (root / "docs" / "2024").mkdir(parents=True)
    (root / "docs" / "a.txt").write_bytes(os.urandom(5000))
    (root / "docs" / "2024" / "report-jan.txt").write_bytes(os.urandom(70_000))
    (root / "report-2024.txt").write_bytes(os.urandom(1234))
    return root


async def test_cd_ls_get_put(server: Server, tree: Path, local: Path) -> None:
    (local / "up.bin").write_bytes(os.urandom(300_000))
    async with running_repl(server.port, local) as repl:
        await repl.line("cd docs")
        assert repl.shell.remote_cwd == "/docs"
        await repl.line("ls")
        assert re.search(r"^\s+-\s+.*\s2024/$", repl.out.getvalue(), re.MULTILINE)
        assert re.search(r"^\s+4\.9 KiB\s+.*\sa\.txt$", repl.out.getvalue(), re.MULTILINE)
        await repl.line("get a.txt")
        await repl.line("get 2024/report-jan.txt copy.txt")
        await repl.line("put up.bin")
        await repl.line("put up.bin 2024/")
        await repl.line("pwd")
        assert repl.err.getvalue() == ""
    assert sha(local / "a.txt") == sha(tree / "docs" / "a.txt")
    assert sha(local / "copy.txt") == sha(tree / "docs" / "2024" / "report-jan.txt")
    assert sha(tree / "docs" / "up.bin") == sha(local / "up.bin")
    assert sha(tree / "docs" / "2024" / "up.bin") == sha(local / "up.bin")
    summaries = SUMMARY.findall(repl.out.getvalue())
    assert [(verb, name) for verb, name, *_ in summaries] == [
        ("got", "a.txt"), ("got", "report-jan.txt"), ("sent", "up.bin"), ("sent", "up.bin"),
    ]  # fmt: skip
    assert "/docs\n" in repl.out.getvalue()


async def test_tab_completes_remote_names_through_the_key_bindings(
    server: Server, tree: Path, local: Path
) -> None:
    async with running_repl(server.port, local) as repl:
        await repl.shell.cache.settle()
        repl.keys("get re\t")
        await until(lambda: repl.buffer_text == "get report-2024.txt")
        await repl.line("")
        # A folder not cached yet: Tab queues its listing and completes when it arrives.
        assert repl.shell.cache.listing("/docs/2024") is None
        repl.keys("get docs/2024/rep\t")
        await until(lambda: repl.buffer_text == "get docs/2024/report-jan.txt")
        await repl.line(" here.txt")
        assert repl.err.getvalue() == ""
    assert sha(local / "report-2024.txt") == sha(tree / "report-2024.txt")
    assert sha(local / "here.txt") == sha(tree / "docs" / "2024" / "report-jan.txt")


async def test_mget_mput_with_globs(server: Server, root: Path, local: Path) -> None:
    for index in range(3):
        (root / f"r{index}.txt").write_bytes(os.urandom(1000 + index))
        (local / f"l{index}.csv").write_bytes(os.urandom(2000 + index))
    (root / "skip.bin").write_bytes(b"x")
    (local / "skip.bin").write_bytes(b"y")
    async with running_repl(server.port, local) as repl:
        await repl.line("mget *.txt")
        await repl.line("mkdir incoming")
        await repl.line("cd incoming")
        await repl.line("mput *.csv")
        await repl.line("mget *.nothing")
        assert repl.err.getvalue().splitlines() == ["mget *.nothing: no remote file matches '*.nothing'"]
    for index in range(3):
        assert sha(local / f"r{index}.txt") == sha(root / f"r{index}.txt")
        assert sha(root / "incoming" / f"l{index}.csv") == sha(local / f"l{index}.csv")
    assert (local / "skip.bin").read_bytes() == b"y"  # not fetched: it did not match
    assert not (root / "incoming" / "skip.bin").exists()
    assert "got 3 files:" in repl.out.getvalue() and "sent 3 files:" in repl.out.getvalue()


async def test_changes_refresh_the_completion_cache(server: Server, root: Path, local: Path) -> None:
    (local / "new.txt").write_bytes(b"new")
    async with running_repl(server.port, local) as repl:
        cache, completer = repl.shell.cache, repl.repl.completer
        await cache.settle()

        def names(text: str) -> list[str]:
            from prompt_toolkit.completion import CompleteEvent
            from prompt_toolkit.document import Document

            event = CompleteEvent(completion_requested=True)
            return [c.text for c in completer.get_completions(Document(text), event)]

        assert names("get ne") == []
        await repl.line("put new.txt")
        await cache.settle()
        assert names("get ne") == ["new.txt"]
        await repl.line("mkdir box")
        await repl.line("mv new.txt box")
        await cache.settle()
        assert names("get ne") == [] and names("cd b") == ["box/"]
        assert names("get box/") == ["box/new.txt"]
        await repl.line("rm box/new.txt")
        await cache.settle()
        assert names("get box/") == []
        await repl.line("rmdir box")
        await cache.settle()
        assert names("cd b") == []
        assert repl.err.getvalue() == ""
    assert list(root.iterdir()) == []


async def test_errors_are_one_line_and_the_repl_stays_up(server: Server, tree: Path, local: Path) -> None:
    async with running_repl(server.port, local) as repl:
        await repl.line("get nope.txt")
        await repl.line("frobnicate")
        await repl.line("mv one")  # (`cd` alone goes to the login folder: no longer a usage error)
        await repl.line('get "unclosed')
        await repl.line("lcd /no/such/folder")
        await repl.line("put missing.bin")
        await repl.line("help get")
        await repl.line("help")
        await repl.line("pwd")
    assert repl.err.getvalue().splitlines() == [
        "get nope.txt: 550 No such file or directory",
        "frobnicate: unknown command 'frobnicate' (type `help` for the list)",
        "mv one: usage: mv SOURCE TARGET",
        'get "unclosed: unclosed quote "',
        "lcd /no/such/folder: no such local folder: /no/such/folder",
        f"put missing.bin: no such local file: {local / 'missing.bin'}",
    ]
    out = repl.out.getvalue()
    assert "usage: get [-c | -r] REMOTE [LOCAL]" in out and "-c    continue" in out
    assert "Transfers:" in out and re.search(
        r"^  mput \[-c\] PATTERN\.\.\.\s+upload every", out, re.MULTILINE
    )
    assert out.rstrip().endswith("/")
    assert not (local / "nope.txt").exists()


class SlowDownloads(LocalStorage):
    """Downloads at about 2 MiB/s, in small chunks, so there is time to press Ctrl-C."""

    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        return SlowReader(await super().open_read(path, offset))


async def test_ctrl_c_aborts_a_transfer_and_get_c_resumes(root: Path, local: Path) -> None:
    (root / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    factory = lambda account: SlowDownloads(account.home, chunk_size=64 * 1024)
    async with Server(root=root, host="127.0.0.1", port=0, storage_factory=factory) as server:  # noqa: SIM117
        async with running_repl(server.port, local) as repl:  # (the port is known only once it runs)
            repl.keys("get big.bin\r")
            partial = local / "big.bin"
            await until(lambda: partial.exists() and partial.stat().st_size > 0)
            os.kill(os.getpid(), signal.SIGINT)  # what the terminal sends on Ctrl-C
            await until(lambda: repl.repl.lines_done == 1)
            assert re.fullmatch(
                r"get big\.bin: interrupted at [\d.]+ (KiB|MiB) of 2\.0 MiB \(transfer aborted\); `get -c` resumes\n",
                repl.err.getvalue(),
            )
            stopped_at = partial.stat().st_size
            assert 0 < stopped_at < 2 * 1024 * 1024
            await repl.line("pwd")  # the connection is still usable
            assert repl.out.getvalue().endswith("/\n")
            await repl.line("get -c big.bin")
            assert "resumed at" in repl.out.getvalue()
            assert repl.err.getvalue().count("\n") == 1
    assert sha(local / "big.bin") == sha(root / "big.bin")


async def test_put_c_resumes_a_partial_upload(server: Server, root: Path, local: Path) -> None:
    data = os.urandom(700_000)
    (local / "video.bin").write_bytes(data)
    (root / "video.bin").write_bytes(data[:300_000])  # what an earlier, interrupted upload left
    async with running_repl(server.port, local) as repl:
        await repl.line("put -c video.bin")
        await repl.line("put -c video.bin")
        assert repl.err.getvalue() == ""
    assert sha(root / "video.bin") == sha(local / "video.bin")
    out = repl.out.getvalue()
    assert re.search(r"^sent video\.bin: 390\.6 KiB in .*, resumed at 293\.0 KiB$", out, re.MULTILINE)
    assert "video.bin: already complete (683.6 KiB)" in out


async def test_a_lost_connection_is_one_line_and_open_reconnects(tree: Path, local: Path) -> None:
    first = Server(root=tree, host="127.0.0.1", port=0)
    await first.start()
    port = first.port
    async with running_repl(port, local) as repl:
        await repl.line("cd docs")
        await first.close()
        await repl.line("pwd")
        [lost] = repl.err.getvalue().splitlines()
        assert lost.startswith(f"pwd: Connection to 127.0.0.1:{port} lost") and lost.endswith(
            "(type `open` to reconnect)"
        )
        assert repl.shell.client is None
        assert (
            toolbar(repl.shell)[0][1] == f" disconnected from 127.0.0.1:{port}: the next command reconnects"
        )
        async with Server(root=tree, host="127.0.0.1", port=port):
            await repl.line("open")
            await repl.line("get a.txt")
            await repl.line("quit")
        assert repl.err.getvalue().count("\n") == 1
    assert sha(local / "a.txt") == sha(tree / "docs" / "a.txt")  # back in /docs after `open`


async def test_history_is_kept_without_passwords_and_suggests(
    server: Server, tree: Path, local: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    history = open_history()
    async with running_repl(server.port, local, history=history, connect=False) as repl:
        await repl.line(f"open ftp://alice:s3cret%20pass@127.0.0.1:{server.port}/docs")
        assert repl.shell.target is not None and repl.shell.target.user == "alice"
        await repl.line("get a.txt")
        (local / "a.txt").unlink()
        repl.keys("ge")
        await until(lambda: repl.repl.session.default_buffer.suggestion is not None)
        await repl.line("\x1b[C")  # Right arrow takes the suggestion from history
        parts = toolbar(repl.shell)
        shown = "".join(text for _, text, *_ in parts)
        assert "alice@127.0.0.1" in shown and "user alice" in shown and "/docs" in shown
        assert "got a.txt" in shown  # the last transfer
    saved = (tmp_path / "data" / "aioftp-lite" / "history").read_text()
    assert f"+open ftp://alice@127.0.0.1:{server.port}/docs" in saved and "s3cret" not in saved
    assert sha(local / "a.txt") == sha(tree / "docs" / "a.txt")  # the suggested `get a.txt` ran


async def test_open_asks_for_the_password_of_a_named_user(server: Server, tree: Path, local: Path) -> None:
    history = InMemoryHistory()
    async with running_repl(server.port, local, connect=False, history=history) as repl:
        await repl.line("ls")
        repl.keys(f"open alice@127.0.0.1:{server.port}\r")
        asking = repl.repl.password_session
        await until(lambda: asking.app.is_running and "Password" in str(asking.message))
        await repl.line("s3cret pass")  # typed at the password prompt, then Enter
        await repl.line("ls -l docs")
        assert repl.shell.target is not None and repl.shell.target.user == "alice"
        assert repl.err.getvalue() == "ls: not connected (use `open HOST` or `open ftp://user@host`)\n"
        assert re.search(r"a\.txt$", repl.out.getvalue(), re.MULTILINE)
        assert f"connected to alice@127.0.0.1:{server.port} as alice, in /" in repl.out.getvalue()
    assert list(history.get_strings()) == ["ls", f"open alice@127.0.0.1:{server.port}", "ls -l docs", "quit"]


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("open ftp://alice:pw@host:21/docs", "open ftp://alice@host:21/docs"),
        ("open alice:p%40ss@host", "open alice@host"),
        ("OPEN FTP://bob:x@h", "OPEN FTP://bob@h"),
        ("open ftp://alice@host", "open ftp://alice@host"),
        ("get report:2024.txt", "get report:2024.txt"),
    ],
)
def test_history_lines_lose_their_passwords(typed: str, kept: str) -> None:
    assert redact(typed) == kept
