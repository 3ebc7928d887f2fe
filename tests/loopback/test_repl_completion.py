"""The REPL's completion: the pure classifier, the completer over a filled cache, and
(against a real, deliberately slow server) that completion never waits for the network.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path, PurePosixPath

import pytest

from aioftp_lite import FTPClient, LocalStorage, RemoteEntry, Server
from aioftp_lite.protocol.listing import FileInfo
from aioftp_lite.storage.base import FileReader
from client.cache import ListingCache
from client.commands import Arg
from client.completion import ShellCompleter, classify
from client.shell import Shell
from client.target import Target
from client.words import quote_word, split_commands
from tests.support.repl import VERBS, apply, complete, make_completer, texts
from tests.support.storage import SlowReader


def entry(name: str, is_dir: bool = False) -> RemoteEntry:
    return RemoteEntry(name, is_dir, None if is_dir else 10, 0.0)


@pytest.fixture
def cache() -> ListingCache:
    filled = ListingCache()
    filled.store("/", [entry("docs", True), entry("my folder", True), entry("report-2024.txt"),
                       entry("my file.txt"), entry("readme.md"), entry(".hidden"), entry('say "hi".txt'),
                       entry("semi;colon.txt")])  # fmt: skip
    filled.store("/docs", [entry("2024", True), entry("a.txt"), entry("archive", True)])
    filled.store("/docs/2024", [entry("report-jan.txt"), entry("report-feb.txt"), entry("q1", True)])
    filled.store("/my folder", [entry("inner file.txt"), entry("sub", True)])
    return filled


@pytest.fixture
def local(tmp_path: Path) -> Path:
    folder = tmp_path / "local"
    (folder / "photos").mkdir(parents=True)
    (folder / "photos" / "cat.jpg").write_bytes(b"cat")
    (folder / "notes.txt").write_text("n")
    (folder / "my notes.txt").write_text("n")
    (folder / "music box").mkdir()
    return folder


# --- the pure classifier -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "word"),
    [
        ("", Arg.COMMAND, ""),
        ("ge", Arg.COMMAND, "ge"),
        ("get ", Arg.REMOTE, ""),
        ("get re", Arg.REMOTE, "re"),
        ("get -c re", Arg.REMOTE, "re"),
        ("get a.txt ", Arg.LOCAL, ""),
        ("get a.txt lo", Arg.LOCAL, "lo"),
        ("put ", Arg.LOCAL, ""),
        ("put -c notes.txt ", Arg.REMOTE, ""),
        ("cd ", Arg.REMOTE_FOLDER, ""),
        ("rmdir docs/", Arg.REMOTE_FOLDER, "docs/"),
        ("mget a.txt b", Arg.REMOTE, "b"),
        ("mput x y z", Arg.LOCAL, "z"),
        ("lcd ph", Arg.LOCAL_FOLDER, "ph"),
        ("lls ", Arg.LOCAL, ""),
        ("mv a b", Arg.REMOTE, "b"),
        ("help g", Arg.COMMAND, "g"),
        ("open ho", Arg.TEXT, "ho"),
        ("pwd ", Arg.TEXT, ""),
        ("nosuchverb x", Arg.TEXT, "x"),
        ('get "my fi', Arg.REMOTE, "my fi"),
        ("get my\\ fi", Arg.REMOTE, "my fi"),
        ("cd docs; get re", Arg.REMOTE, "re"),
        ("cd docs; ", Arg.COMMAND, ""),
        ("DIR do", Arg.REMOTE, "do"),
    ],
)
def test_classify(text: str, kind: Arg, word: str) -> None:
    suggestion = classify(text, VERBS)
    assert (suggestion.kind, suggestion.word) == (kind, word)
    # The replaced span is exactly the raw word under the cursor, quotes included.
    raw = text[len(text) - suggestion.replace :]
    assert raw.strip() == raw
    assert (split_commands(raw + ('"' if raw.count('"') % 2 else ""))[0][0] if raw else "") == word


# --- the completer over a filled cache -----------------------------------------------


def test_command_names(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local)
    assert texts(complete(completer, "m")) == [
        "mdelete",
        "mget",
        "mirror",
        "mkdir",
        "more",
        "mput",
        "mrm",
        "mv",
    ]
    assert texts(complete(completer, "he")) == ["help"]
    assert "quit" in texts(complete(completer, "")) and "bye" in texts(complete(completer, ""))
    assert texts(complete(completer, "help rm")) == ["rm", "rmdir"]
    assert apply("ge", complete(completer, "ge")[0]) == "get"


def test_remote_names_in_the_current_folder(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local)
    found = complete(completer, "get re")
    assert texts(found) == ["readme.md", "report-2024.txt"]
    assert apply("get rep", complete(completer, "get rep")[0]) == "get report-2024.txt"
    assert [c.display_text for c in complete(completer, "get d")] == ["docs/"]  # folders end in /
    assert texts(complete(completer, "get ")) == [
        "docs/", '"my file.txt"', '"my folder/"', "readme.md", "report-2024.txt",
        '"say \\"hi\\".txt"', '"semi;colon.txt"',
    ]  # fmt: skip


def test_hidden_names_only_when_asked_for(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local)
    assert ".hidden" not in texts(complete(completer, "get "))
    assert texts(complete(completer, "get .")) == [".hidden"]


def test_names_with_spaces_are_quoted(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local)
    assert texts(complete(completer, "get my")) == ['"my file.txt"', '"my folder/"']
    assert apply('get "my fi', complete(completer, 'get "my fi')[0]) == 'get "my file.txt"'
    assert apply("get my\\ fi", complete(completer, "get my\\ fi")[0]) == 'get "my file.txt"'
    # A completed quoted folder keeps completing inside it.
    assert texts(complete(completer, 'get "my folder/"')) == [
        '"my folder/inner file.txt"',
        '"my folder/sub/"',
    ]


@pytest.mark.parametrize("name", ["my file.txt", 'say "hi".txt', "semi;colon.txt", "report-2024.txt"])
def test_completed_names_read_back_unchanged(cache: ListingCache, local: Path, name: str) -> None:
    completer = make_completer(cache, local)
    [completion] = [c for c in complete(completer, "get ") if c.display_text == name]
    line = apply("get ", completion)
    assert split_commands(line) == [["get", name]]


def test_nested_paths(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local)
    assert texts(complete(completer, "get docs/2024/re")) == [
        "docs/2024/report-feb.txt",
        "docs/2024/report-jan.txt",
    ]
    assert texts(complete(completer, "get docs/")) == ["docs/2024/", "docs/a.txt", "docs/archive/"]
    assert texts(complete(completer, "get /docs/a")) == ["/docs/a.txt", "/docs/archive/"]
    cd_docs = make_completer(cache, local, cwd="/docs")
    assert texts(complete(cd_docs, "get 2024/q")) == ["2024/q1/"]
    assert texts(complete(cd_docs, "get ../re")) == ["../readme.md", "../report-2024.txt"]


def test_folders_only_for_cd_and_rmdir(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local)
    assert texts(complete(completer, "cd ")) == ["docs/", '"my folder/"']
    assert texts(complete(completer, "rmdir docs/")) == ["docs/2024/", "docs/archive/"]
    assert texts(complete(completer, "cd re")) == []
    assert texts(complete(completer, "rm docs/")) == ["docs/2024/", "docs/a.txt", "docs/archive/"]


def test_second_arguments_and_later_commands(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local)
    assert texts(complete(completer, "mv readme.md do")) == ["docs/"]
    assert texts(complete(completer, "get -c rep")) == ["report-2024.txt"]
    assert texts(complete(completer, "cd docs; get a")) == []  # the cwd is still /: not a.txt of /docs
    assert texts(complete(completer, "lcd docs; get rea")) == ["readme.md"]


def test_local_paths(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local)
    assert texts(complete(completer, "put no")) == ["notes.txt"]
    assert texts(complete(completer, "put my")) == ['"my notes.txt"']
    assert texts(complete(completer, "put photos/")) == ["photos/cat.jpg"]
    assert texts(complete(completer, "mput ph")) == ["photos/"]
    assert texts(complete(completer, "lcd ")) == ['"music box/"', "photos/"]  # folders only
    assert sorted(texts(complete(completer, "lls "))) == [
        '"music box/"',
        '"my notes.txt"',
        "notes.txt",
        "photos/",
    ]
    assert texts(complete(completer, "get readme.md no")) == ["notes.txt"]  # get's LOCAL argument
    assert split_commands(apply("put my", complete(completer, "put my")[0])) == [["put", "my notes.txt"]]


def test_nothing_remote_when_not_connected(cache: ListingCache, local: Path) -> None:
    completer = make_completer(cache, local, connected=False)
    assert complete(completer, "get re") == []
    assert texts(complete(completer, "put no")) == ["notes.txt"]


async def test_an_uncached_folder_is_queued_and_completes_later(local: Path) -> None:
    class Source:
        def __init__(self) -> None:
            self.lock = asyncio.Lock()
            self.asked: list[str] = []

        async def list(self, path: str = "") -> list[RemoteEntry]:
            self.asked.append(path)
            return [entry("report-2024.txt")]

    cache = ListingCache()
    source = Source()
    cache.attach(source)
    completer = make_completer(cache, local)
    try:
        assert complete(completer, "get re") == []
        assert completer.waiting == ("/", "get re")
        await cache.settle(timeout=5)
        assert source.asked == ["/"]
        assert texts(complete(completer, "get re")) == ["report-2024.txt"]
        assert completer.waiting is None
    finally:
        await cache.close()


# --- against a real, slow server -------------------------------------------------------


class SlowListing(LocalStorage):
    """A folder of 10,000 names that takes `delay` seconds to list."""

    def __init__(self, root: Path, delay: float, count: int = 10_000) -> None:
        super().__init__(root)
        self.delay = delay
        self.count = count
        self.listed_at: list[float] = []

    async def list_dir(self, path: PurePosixPath) -> list[FileInfo]:
        await asyncio.sleep(self.delay)
        self.listed_at.append(time.monotonic())
        return [FileInfo(f"file-{index:05d}.txt", False, index, 0.0) for index in range(self.count)]


async def test_completion_never_waits_for_a_slow_folder_of_10000_entries(root: Path, local: Path) -> None:
    storage = SlowListing(root, delay=2.0)
    async with Server(root=root, host="127.0.0.1", port=0, storage_factory=lambda account: storage) as server:
        shell = Shell(out=_Sink(), err=_Sink(), local_dir=local, timeout=10)
        completer = ShellCompleter(
            VERBS, shell.cache, lambda: shell.remote_cwd, lambda: local, lambda: shell.connected
        )
        try:
            await shell.open(Target("127.0.0.1", server.port))  # queues a listing of "/"
            await _until(lambda: shell.cache.listing_now == "/")
            found = complete(completer, "get file-0999")
            assert found == []  # empty cache: answered at once, with nothing
            # It did not wait: the two-second listing has not finished and is still running.
            assert storage.listed_at == [] and shell.cache.listing_now == "/"
            await shell.cache.settle(timeout=10)
            found = complete(completer, "get file-0999")
            assert texts(found) == [f"file-0999{digit}.txt" for digit in range(10)]

            shell.changed("file-00001.txt")  # our own change: the listing is stale now
            await _until(lambda: shell.cache.listing_now == "/")
            stale = complete(completer, "get file-0999")
            assert texts(stale) == texts(found)  # answered from the stale copy ...
            assert len(storage.listed_at) == 1 and shell.cache.listing_now == "/"  # ... not the new one
            await shell.cache.settle(timeout=10)
            assert len(storage.listed_at) == 2
        finally:
            await shell.close()


class SlowDownloads(SlowListing):
    def __init__(self, root: Path) -> None:
        super().__init__(root, delay=0.0, count=3)
        self.transfers_ended: list[float] = []
        self.chunk_size = 64 * 1024

    async def open_read(self, path: PurePosixPath, offset: int = 0) -> FileReader:
        return SlowReader(await super().open_read(path, offset), 0.02, self.transfers_ended)


async def test_background_listing_never_interrupts_a_transfer(root: Path, local: Path) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: 16 slow chunks
    (root / "big.bin").write_bytes(payload)
    storage = SlowDownloads(root)
    async with Server(root=root, host="127.0.0.1", port=0, storage_factory=lambda account: storage) as server:
        cache = ListingCache()
        async with FTPClient("127.0.0.1", server.port, timeout=10) as client:
            cache.attach(client)
            target = local / "big.bin"
            with target.open("wb") as sink:
                download = asyncio.create_task(client.download("big.bin", sink))
                await _until(lambda: bool(client.busy) and sink.tell() > 0)
                cache.request("/")  # while the transfer holds the connection
                await asyncio.wait_for(download, 20)
            await cache.settle(timeout=10)
            listing = cache.listing("/")
            await cache.close()
        assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(payload).digest()
        [ended] = storage.transfers_ended
        [listed] = storage.listed_at
        assert listed > ended  # the listing waited for the transfer to finish
        assert listing is not None
        assert [e.name for e in listing.entries] == ["file-00000.txt", "file-00001.txt", "file-00002.txt"]


class _Sink:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass


async def _until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def test_quote_word_round_trips() -> None:
    for name in ["plain", "two words", "", 'q"uote', "back\\slash", "semi;colon", "it's", "tab\there"]:
        assert split_commands("x " + quote_word(name)) == [["x", name]]


def test_cd_offers_symlinks_that_may_be_folders(local: Path) -> None:
    cache = ListingCache()
    cache.store("/", [RemoteEntry("latest", False, None, None, {"type": "OS.unix=slink:/releases/3"}),
                      entry("log.txt"), entry("logs", True)])  # fmt: skip
    completer = make_completer(cache, local)
    assert texts(complete(completer, "cd l")) == ["latest", "logs/"]
    assert texts(complete(completer, "get l")) == ["latest", "log.txt", "logs/"]
