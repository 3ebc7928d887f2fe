"""The table of REPL verbs: each declared once with its usage, help and argument kinds.

Handlers are declared with `@verb(...)` beside their code (`actions.py`, `transfers.py`,
...), which makes each a `Verb`; `registry.py` puts them all in the table, in the order
`help` lists them. The same table drives dispatch and usage checks (`shell.py`), the
`help` menu, and completion (which kind of name each argument wants).
"""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .context import ShellContext
from .errors import UsageError


class Arg(enum.Enum):
    """What an argument names, which decides how it is completed."""

    TEXT = "text"  # nothing to complete (a host, a URL)
    COMMAND = "command"
    REMOTE = "remote path"
    REMOTE_FOLDER = "remote folder"
    LOCAL = "local path"
    LOCAL_FOLDER = "local folder"


@dataclass(frozen=True, slots=True)
class Call:
    """A verb with its words sorted into flags and positional arguments."""

    name: str  # the name as typed (an alias stays an alias)
    args: tuple[str, ...]
    flags: frozenset[str] = frozenset()
    values: Mapping[str, str] = field(default_factory=dict)  # options with a value: {"-n": "4"}

    def value(self, option: str, default: int, *, least: int = 1, most: int = 64) -> int:
        """An option's whole-number value, checked against its bounds."""
        text = self.values.get(option)
        if text is None:
            return default
        if not text.isdigit() or not least <= int(text) <= most:
            raise UsageError(f"{option} wants a number from {least} to {most}, not {text!r}")
        return int(text)


Handler = Callable[[ShellContext, Call], Awaitable[None]]

GROUPS = ("Connection", "Remote files", "Transfers", "Local files", "Session")


@dataclass(frozen=True)
class Verb:
    name: str
    handler: Handler
    usage: str  # "get [-c] REMOTE [LOCAL]"
    summary: str  # one line in the menu
    details: str  # what `help NAME` adds
    group: str
    args: tuple[Arg, ...] = ()  # kinds of the positional arguments, in order
    repeat_last: bool = False  # the last kind repeats (`mget *.txt *.csv`)
    required: int = 0  # how many positional arguments must be given
    # flag -> what it does; a key with a second word takes a value ("-n N", "--parallel N")
    options: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    needs_connection: bool = True
    raw: bool = False  # the words are taken as they are, options included (`!CMD`, `quote`)
    swap_flag: str = ""  # this flag swaps the kinds of the first two arguments (`mirror -R`)
    # After a lost connection: None gives up; else reconnect and run again with this flag added
    # ("-c" for get) or as it was ("" for pget and mirror, which pick up where they stopped).
    retry: str | None = None

    def kind_at(self, position: int, words: list[str]) -> Arg:
        """The kind of the argument at `position`, given the words typed before it."""
        if self.swap_flag and self.swap_flag in words and position < 2 and len(self.args) >= 2:
            return self.args[1 - position]
        return self.arg_kind(position)

    def takes_value(self, word: str) -> bool | None:
        """None: `word` is no option of this verb; else whether it takes a value."""
        for key in self.options:
            flag, *value = key.split()
            if flag == word:
                return bool(value)
        return None

    def positional_count(self, words: list[str]) -> int:
        """How many positional arguments `words` hold (options and their values left out)."""
        if self.raw:
            return len(words)
        count, skip, only_args = 0, False, False
        for word in words:
            if skip:
                skip = False
            elif only_args or not word.startswith("-") or word == "-":
                count += 1
            elif word == "--":
                only_args = True
            else:
                skip = bool(self.takes_value(word))
        return count

    def arg_kind(self, position: int) -> Arg:
        """The kind of the positional argument at `position` (0-based), TEXT past the end."""
        if position < len(self.args):
            return self.args[position]
        if self.repeat_last and self.args:
            return self.args[-1]
        return Arg.TEXT

    def parse(self, name: str, words: list[str]) -> Call:
        """Sort `words` (after the verb) into flags, valued options and arguments, checking counts.

        An unknown option is refused by name rather than taken for a file name; `--` ends the
        options (`rm -- -odd-name`), and single-letter flags combine (`ls -la`).
        """
        flags: set[str] = set()
        values: dict[str, str] = {}
        args: list[str] = []
        rest = iter(words)
        only_args = self.raw
        for word in rest:
            if only_args or not word.startswith("-") or word == "-":
                args.append(word)
                continue
            if word == "--":
                only_args = True
                continue
            flag, equals, value = word.partition("=")
            wants_value = self.takes_value(flag)
            if wants_value:
                if not equals:
                    value = next(rest, "")
                if not value:
                    raise UsageError(f"option {flag} needs a value (usage: {self.usage})")
                values[flag] = value
            elif wants_value is False and not equals:
                flags.add(flag)
            elif self._combined(word):
                flags.update(f"-{letter}" for letter in word[1:])
            else:
                raise UsageError(f"unknown option {word} (usage: {self.usage})")
        most = None if self.repeat_last else len(self.args)
        if len(args) < self.required or (most is not None and len(args) > most):
            raise UsageError(f"usage: {self.usage}")
        return Call(name, tuple(args), frozenset(flags), values)

    def _combined(self, word: str) -> bool:
        """`-la`: single-letter flags of this verb written together."""
        letters = word[1:]
        return (not word.startswith("--") and len(letters) > 1
                and all(self.takes_value(f"-{letter}") is False for letter in letters))  # fmt: skip


def verb(
    name: str,
    *,
    usage: str,
    summary: str,
    details: str = "",
    group: str,
    args: tuple[Arg, ...] = (),
    repeat_last: bool = False,
    required: int = 0,
    options: Mapping[str, str] | None = None,
    aliases: tuple[str, ...] = (),
    needs_connection: bool = True,
    raw: bool = False,
    swap_flag: str = "",
    retry: str | None = None,
) -> Callable[[Handler], Verb]:
    """Declare a REPL verb: the decorated coroutine runs it, and the name becomes its `Verb`."""
    assert group in GROUPS, group

    def declare(handler: Handler) -> Verb:
        return Verb(name, handler, usage, summary, textwrap.dedent(details).strip(), group, args,
                    repeat_last, required, dict(options or {}), aliases, needs_connection, raw, swap_flag,
                    retry)  # fmt: skip

    return declare


VERBS: dict[str, Verb] = {}  # every name and alias -> its verb, filled once by `register`


def register(verbs: Iterable[Verb]) -> dict[str, Verb]:
    """Put `verbs` in the table, in this order (the order `help` lists them in)."""
    for declared in verbs:
        for key in (declared.name, *declared.aliases):
            assert key not in VERBS, f"verb {key!r} declared twice"
            VERBS[key] = declared
    return VERBS


def table() -> dict[str, Verb]:
    """The full table; `registry.py`, which the shell imports, fills it."""
    if not VERBS:
        raise RuntimeError("no REPL verbs registered: import client.registry first")
    return VERBS


def lookup(name: str) -> Verb | None:
    return table().get(name.lower())


def unique_verbs() -> list[Verb]:
    seen: dict[str, Verb] = {}
    for declared in table().values():
        seen.setdefault(declared.name, declared)
    return list(seen.values())


# --- help -----------------------------------------------------------------------


def format_menu(width: int = 80) -> str:
    """All verbs, grouped, one line each: the output of a bare `help`."""
    verbs = unique_verbs()
    column = max(len(declared.usage) for declared in verbs) + 2
    column = min(column, max(20, width // 2))
    lines: list[str] = []
    for group in GROUPS:
        members = [declared for declared in verbs if declared.group == group]
        if not members:
            continue
        lines.append(f"{group}:")
        for declared in members:
            usage = declared.usage
            if len(usage) + 2 > column:  # a long usage gets its own line
                lines.append(f"  {usage}")
                usage = ""
            summary = declared.summary
            if declared.aliases:
                summary += f" (also: {', '.join(declared.aliases)})"
            lines.append(f"  {usage:<{column}}{summary}")
        lines.append("")
    lines.append(
        "Type `help COMMAND` for details. Tab completes commands and names; quote names with spaces."
    )
    return "\n".join(lines)


def format_help(name: str, width: int = 80) -> str:
    """The explanation of one verb: the output of `help NAME`."""
    declared = lookup(name)
    if declared is None:
        raise UsageError(f"help: no command {name!r} (type `help` for the list)")
    lines = [f"{declared.name}: {declared.summary}", f"usage: {declared.usage}"]
    if declared.details:
        lines.append("")
        for paragraph in declared.details.split("\n\n"):
            lines.append(textwrap.fill(" ".join(paragraph.split()), width=width))
            lines.append("")
        lines.pop()
    if declared.options:
        lines += ["", "options:"]
        column = max(6, *(len(flag) + 2 for flag in declared.options))
        lines += [f"  {flag:<{column}}{meaning}" for flag, meaning in declared.options.items()]
    if declared.aliases:
        lines += ["", f"also called: {', '.join(declared.aliases)}"]
    return "\n".join(lines)
