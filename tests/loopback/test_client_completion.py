"""Completion, pgcli's way: fuzzy matches ranked (prefix first, then the tightest run of the
typed letters; case ignored), a single match completes at once, names inside an open quote
keep completing, and a folder changed by someone else shows its new names after a refresh."""

from __future__ import annotations

import os
from pathlib import Path

from aioftp_lite import RemoteEntry, Server
from client.cache import ListingCache
from client.completion import fuzzy_rank
from tests.support.repl import apply, complete, make_completer, running_repl, texts, until


def entry(name: str, is_dir: bool = False) -> RemoteEntry:
    return RemoteEntry(name, is_dir, None if is_dir else 10, 0.0)


def test_fuzzy_rank_orders_like_pgcli() -> None:
    names = ["mkdir", "rmdir", "md5sum", "mv", "MDTM.log"]
    ranked = sorted((rank, name) for name in names if (rank := fuzzy_rank(name, "md")) is not None)
    assert [name for _, name in ranked] == ["md5sum", "MDTM.log", "rmdir", "mkdir"]
    assert fuzzy_rank("mv", "md") is None and fuzzy_rank("anything", "") is not None


def test_fuzzy_completion_of_remote_names_and_commands(tmp_path: Path) -> None:
    cache = ListingCache()
    cache.store("/", [entry("report-2024.txt"), entry("annual-report.pdf"), entry("Readme.md"),
                      entry("docs", True), entry("draft-spec.txt")])  # fmt: skip
    completer = make_completer(cache, tmp_path)
    # No name starts with "rpt": the names holding r..p..t, the tightest run first, then the earliest.
    assert texts(complete(completer, "get rpt")) == ["report-2024.txt", "annual-report.pdf", "draft-spec.txt"]
    # A prefix match exists: only the prefix matches, case ignored, so Tab completes it at once.
    assert texts(complete(completer, "get REA")) == ["Readme.md"]
    assert texts(complete(completer, "cd dcs")) == ["docs/"]
    assert apply("mrr", complete(completer, "mrr")[0]) == "mirror"  # no command starts so
    assert texts(complete(completer, "bkm")) == ["bookmark"]


async def test_single_match_open_quotes_and_names_added_by_someone_else(server: Server, root: Path,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    (root / "a dir" / "sub folder").mkdir(parents=True)
    (root / "a dir" / "sub folder" / "deep file.txt").write_bytes(os.urandom(100))
    (root / "first.txt").write_bytes(b"1")
    (root / "fine.txt").write_bytes(b"2")
    local = tmp_path / "local"
    local.mkdir()
    async with running_repl(server.port, local) as repl:
        await repl.shell.cache.settle()
        # Inside an open quote, each Tab goes one folder deeper; a single match closes the menu.
        repl.keys('get "a d\t')
        await until(lambda: repl.buffer_text == 'get "a dir/"')
        repl.keys("\x08su\t")  # back over the closing quote, and on into the folder
        await until(lambda: repl.buffer_text == 'get "a dir/sub folder/"')
        repl.keys("\x08dp\t")  # fuzzy: d..p
        await until(lambda: repl.buffer_text == 'get "a dir/sub folder/deep file.txt"')
        assert repl.repl.session.default_buffer.complete_state is None
        await repl.line("")
        assert (local / "deep file.txt").read_bytes() == (
            root / "a dir/sub folder/deep file.txt"
        ).read_bytes()
        # Someone else adds a file: a Tab on a listing past its age shows the old names at once,
        # and the refreshed ones as soon as they arrive, with no other key pressed.
        repl.shell.cache.max_age = 0.2
        (root / "fig.txt").write_bytes(b"3")
        await until(lambda: (repl.shell.cache.listing("/") or None) is not None)
        await until(lambda: repl.shell.cache._clock() - repl.shell.cache.listing("/").fetched_at > 0.3)  # type: ignore[union-attr]
        repl.keys("get fi\t")
        buffer = repl.repl.session.default_buffer

        def shown() -> list[str]:
            state = buffer.complete_state
            return [] if state is None else [c.display_text for c in state.completions]

        await until(lambda: shown() == ["fig.txt", "fine.txt", "first.txt"])
        repl.keys("\x15")  # Ctrl-U: clear the line
