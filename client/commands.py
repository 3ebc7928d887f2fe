"""The table of REPL verbs: each declared once with its usage, help and argument kinds.

Handlers register themselves with `@verb(...)` beside their code (`actions.py`,
`transfers.py`). The same table drives dispatch and usage checks (`shell.py`), the
`help` menu, and completion (which kind of name each argument wants).
"""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .shell import Shell


class Arg(enum.Enum):
    """What an argument names, which decides how it is completed."""

    TEXT = "text"  # nothing to complete (a host, a URL)
    COMMAND = "command"
    REMOTE = "remote path"
    REMOTE_FOLDER = "remote folder"
    LOCAL = "local path"
    LOCAL_FOLDER = "local folder"


class ShellError(Exception):
    """A mistake the user can fix, explained in one line (no such local file, not connected...)."""


class UsageError(ShellError):
    """The words do not fit the verb's usage."""


@dataclass(frozen=True, slots=True)
class Call:
    """A verb with its words sorted into flags and positional arguments."""

    name: str  # the name as typed (an alias stays an alias)
    args: tuple[str, ...]
    flags: frozenset[str] = frozenset()


Handler = Callable[["Shell", Call], Awaitable[None]]

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
    options: Mapping[str, str] = field(default_factory=dict)  # flag -> what it does
    aliases: tuple[str, ...] = ()
    needs_connection: bool = True

    def arg_kind(self, position: int) -> Arg:
        """The kind of the positional argument at `position` (0-based), TEXT past the end."""
        if position < len(self.args):
            return self.args[position]
        if self.repeat_last and self.args:
            return self.args[-1]
        return Arg.TEXT

    def parse(self, name: str, words: list[str]) -> Call:
        """Sort `words` (after the verb) into flags and arguments, checking the counts."""
        flags = {word for word in words if word in self.options}
        args = tuple(word for word in words if word not in self.options)
        most = None if self.repeat_last else len(self.args)
        if len(args) < self.required or (most is not None and len(args) > most):
            raise UsageError(f"usage: {self.usage}")
        return Call(name, args, frozenset(flags))


VERBS: dict[str, Verb] = {}  # every name and alias -> its verb


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
) -> Callable[[Handler], Handler]:
    """Declare a REPL verb; the decorated coroutine runs it."""
    assert group in GROUPS, group

    def register(handler: Handler) -> Handler:
        declared = Verb(name, handler, usage, summary, textwrap.dedent(details).strip(), group, args,
                        repeat_last, required, dict(options or {}), aliases, needs_connection)  # fmt: skip
        for key in (name, *aliases):
            assert key not in VERBS, f"verb {key!r} declared twice"
            VERBS[key] = declared
        return handler

    return register


def table() -> dict[str, Verb]:
    """The full table (importing the handler modules registers every verb)."""
    from . import actions, transfers  # noqa: F401 - imported for their @verb declarations

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
        lines += [f"  {flag:<6}{meaning}" for flag, meaning in declared.options.items()]
    if declared.aliases:
        lines += ["", f"also called: {', '.join(declared.aliases)}"]
    return "\n".join(lines)
