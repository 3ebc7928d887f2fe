"""Tab completion: a pure classifier of the text before the cursor, and a completer over the cache.

`classify` decides what the word under the cursor names (a command, a remote path, a
remote folder, a local path) from the words alone, like pgcli's `suggest_type`.
`ShellCompleter` then answers from memory only: remote names from the listing cache
(a folder not cached yet is queued for the background worker and completes once it
arrives), local names through prompt_toolkit's `PathCompleter`. Completing never
sends anything to the server and never waits.

Every completion replaces the whole word under the cursor with the full path, quoted
when needed (`"my docs/"`), so nested paths and names with spaces complete alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from . import remote_paths
from .cache import ListingCache
from .commands import Arg, Verb
from .words import quote_word, scan_words


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the word under the cursor should be completed with."""

    kind: Arg
    word: str  # its value so far, without quotes
    replace: int  # how many characters before the cursor the completion replaces


def classify(text_before_cursor: str, verbs: Mapping[str, Verb]) -> Suggestion:
    """Pure: which kind of name the word under the cursor is, from the words typed so far."""
    scan = scan_words(text_before_cursor)
    words = list(scan.words)
    if scan.ends_in_space:
        current, replace = "", 0
    else:
        last = words.pop()
        current, replace = last.value, len(text_before_cursor) - last.start
    if not words:
        return Suggestion(Arg.COMMAND, current, replace)
    declared = verbs.get(words[0].value.lower())
    if declared is None:
        return Suggestion(Arg.TEXT, current, replace)
    typed = [word.value for word in words[1:]]
    if (
        not declared.raw
        and current.startswith("-")
        and (declared.takes_value(current) is not None or not current.strip("-"))
    ):
        return Suggestion(Arg.TEXT, current, replace)  # a flag being typed
    if not declared.raw and typed and declared.takes_value(typed[-1]):
        return Suggestion(Arg.TEXT, current, replace)  # the value of `-n N`
    position = declared.positional_count(typed)
    return Suggestion(declared.kind_at(position, typed), current, replace)


Rank = tuple[int, int, int, str]
Item = TypeVar("Item")


def fuzzy_rank(name: str, typed: str) -> Rank | None:
    """How well `name` matches what was typed, smaller first, as pgcli ranks: names that start
    with it (alphabetically), then names holding its letters in order, the tightest and
    earliest such run first. Case is ignored. None: no match at all.

    >>> sorted(["mkdir", "rmdir", "md5sum"], key=lambda name: fuzzy_rank(name, "md"))
    ['md5sum', 'rmdir', 'mkdir']
    """
    lowered, wanted = name.lower(), typed.lower()
    if lowered.startswith(wanted):
        return (0, 0, 0, lowered)
    if len(wanted) < 2:  # one letter anywhere matches too much to help
        return None
    best: tuple[int, int] | None = None
    for start, char in enumerate(lowered):
        if char != wanted[0]:
            continue
        position = start
        for letter in wanted[1:]:
            position = lowered.find(letter, position + 1)
            if position < 0:
                break
        else:
            window = (position - start + 1, start)
            best = window if best is None or window < best else best
    return None if best is None else (1, best[0], best[1], lowered)


def best_matches(candidates: Iterable[tuple[str, Item]], typed: str) -> list[Item]:
    """The items whose names start with `typed` (case ignored) if there are any, else the
    fuzzy matches; best first.

    Fuzzy matches are offered only when nothing starts with the typed text, so that Tab
    still completes a unique prefix at once (and inserts the common part of several), as
    in a shell; a mistyped or half-remembered name still finds its match. The prefix test
    comes first because it is cheap: a folder of 10,000 names answers at once.
    """
    candidates = list(candidates)
    wanted = typed.lower()
    prefixed = [
        (name.lower(), index) for index, (name, _) in enumerate(candidates) if name.lower().startswith(wanted)
    ]
    if prefixed:
        return [candidates[index][1] for _, index in sorted(prefixed)]
    if len(wanted) < 2:
        return []
    holds = re.compile(".*?".join(map(re.escape, wanted)))  # a quick filter, in C, before ranking
    fuzzy = [
        (rank, index)
        for index, (name, _) in enumerate(candidates)
        if holds.search(name.lower()) and (rank := fuzzy_rank(name, typed))
    ]
    return [candidates[index][1] for _, index in sorted(fuzzy)]


def remote_completions(word: str, replace: int, cwd: str, cache: ListingCache,
                       *, folders_only: bool) -> tuple[list[Completion], str | None]:  # fmt: skip
    """Completions for a half-typed remote path, and the folder to wait for if not cached."""
    typed_folder, prefix = remote_paths.split_partial(word)
    folder = remote_paths.absolute(cwd, typed_folder or ".")
    entries = cache.entries(folder)
    if entries is None:
        return [], folder
    show_hidden = prefix.startswith(".")
    eligible = []
    for entry in entries:
        name = entry.name
        if name in (".", "..") or "/" in name or (name.startswith(".") and not show_hidden):
            continue
        if folders_only and not (entry.is_dir or getattr(entry, "is_link", False)):  # a link may be a folder
            continue
        eligible.append((name, entry))
    completions = []
    for entry in best_matches(eligible, prefix):
        shown = entry.name + "/" if entry.is_dir else entry.name
        completions.append(Completion(quote_word(typed_folder + shown), -replace, display=shown))
    return completions, None


def local_completions(word: str, replace: int, base: Path, *, folders_only: bool) -> list[Completion]:
    """Local names through prompt_toolkit's PathCompleter, re-quoted as whole words."""
    paths = PathCompleter(only_directories=folders_only, get_paths=lambda: [str(base)], expanduser=True)
    completions = []
    for found in paths.get_completions(Document(word), CompleteEvent(completion_requested=True)):
        shown = found.display_text
        full = word + found.text + ("/" if shown.endswith("/") else "")
        completions.append(Completion(quote_word(full), -replace, display=shown))
    return completions


class ShellCompleter(Completer):
    """prompt_toolkit's view of the shell: reads the cache, the remote folder and the local folder."""

    def __init__(
        self,
        verbs: Mapping[str, Verb],
        cache: ListingCache,
        remote_cwd: Callable[[], str],
        local_dir: Callable[[], Path],
        connected: Callable[[], bool],
    ) -> None:
        self.verbs = verbs
        self.cache = cache
        self._remote_cwd = remote_cwd
        self._local_dir = local_dir
        self._connected = connected
        # (folder, text before the cursor) of a Tab that found the folder not cached yet
        self.waiting: tuple[str, str] | None = None
        self.last_folder = ""  # the remote folder the last completions came from

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        suggestion = classify(document.text_before_cursor, self.verbs)
        self.waiting = None
        word, replace = suggestion.word, suggestion.replace
        if suggestion.kind is Arg.COMMAND:
            yield from self._commands(word, replace)
        elif suggestion.kind in (Arg.REMOTE, Arg.REMOTE_FOLDER) and self._connected():
            folders_only = suggestion.kind is Arg.REMOTE_FOLDER
            found, missing = remote_completions(
                word, replace, self._remote_cwd(), self.cache, folders_only=folders_only
            )
            if missing is not None:
                self.waiting = (missing, document.text_before_cursor)
            typed_folder = remote_paths.split_partial(word)[0]
            self.last_folder = remote_paths.absolute(self._remote_cwd(), typed_folder or ".")
            yield from found
        elif suggestion.kind in (Arg.LOCAL, Arg.LOCAL_FOLDER):
            folders_only = suggestion.kind is Arg.LOCAL_FOLDER
            yield from local_completions(word, replace, self._local_dir(), folders_only=folders_only)

    def _commands(self, word: str, replace: int) -> Iterable[Completion]:
        for name in best_matches(((name, name) for name in self.verbs), word):
            yield Completion(name, -replace, display_meta=self.verbs[name].summary)
