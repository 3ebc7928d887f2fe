"""Wildcards in LIST and NLST arguments, as vsftpd and the classic clients use them.

`mget *.log` in tnftp or inetutils-ftp sends `NLST *.log` and fetches each name it gets
back. Only the last path component may hold a pattern: `*` (any run of characters),
`?` (one character) and `[...]` (one of a set, `[!...]` or `[^...]` for none of it,
`a-z` ranges). Matching is case-sensitive, as names on the server are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# One pattern token: STAR, ANY, or a one-character test.
STAR = "*"
ANY = "?"


@dataclass(frozen=True)
class CharSet:
    members: str  # single characters
    ranges: tuple[tuple[str, str], ...]
    negated: bool

    def regex(self) -> str:
        parts = [_in_class(c) for c in self.members]
        parts += [f"{_in_class(low)}-{_in_class(high)}" for low, high in self.ranges if low <= high]
        if not parts:  # only backward ranges such as `z-a`: a set of nothing
            return "." if self.negated else "(?!)"
        return f"[{'^' if self.negated else ''}{''.join(parts)}]"


def _in_class(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char


Token = str | CharSet  # STAR, ANY, a CharSet, or a literal character


def has_wildcard(name: str) -> bool:
    """Whether a name holds a pattern (a `[` without its `]` is a literal character)."""
    return any(token in (STAR, ANY) or isinstance(token, CharSet) for token in _tokens(name))


def split_pattern(argument: str) -> tuple[str, str]:
    """`logs/2024/*.txt` -> (`logs/2024/`, `*.txt`): the folder as typed and the last component."""
    folder, slash, last = argument.rpartition("/")
    return folder + slash, last


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A matcher for whole names, as one regular expression.

    Between two `*` each fixed-length piece is matched at its first occurrence inside an
    atomic group, which is never retried (the earliest place is always the best one), so
    a hostile `*a*a*a*a*b` costs linear time per name, not exponential backtracking.
    """
    pieces: list[list[Token]] = [[]]
    for token in _tokens(pattern):
        if token == STAR:
            pieces.append([])
        else:
            pieces[-1].append(token)
    regex = _regex(pieces[0])
    if len(pieces) > 1:
        regex += "".join(f"(?>.*?{_regex(piece)})" for piece in pieces[1:-1] if piece)
        regex += ".*" + _regex(pieces[-1])
    expression = re.compile(regex + r"\Z", re.DOTALL)
    return lambda name: expression.match(name) is not None


def _regex(piece: list[Token]) -> str:
    return "".join(
        "." if token == ANY else token.regex() if isinstance(token, CharSet) else re.escape(token)
        for token in piece
    )


def _tokens(pattern: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if not tokens or tokens[-1] != STAR:  # `**` is `*`
                tokens.append(STAR)
        elif char == "?":
            tokens.append(ANY)
        elif char == "[" and (closing := _set_end(pattern, i + 1)) > 0:
            tokens.append(_char_set(pattern[i + 1 : closing]))
            i = closing
        else:
            tokens.append(char)
        i += 1
    return tokens


def _set_end(pattern: str, start: int) -> int:
    """Index of the `]` closing a set opened just before `start`, or -1.
    A `]` first in the set belongs to it, as in the shell."""
    i = start
    if pattern[i : i + 1] in ("!", "^"):
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    return pattern.find("]", i)


def _char_set(body: str) -> CharSet:
    negated = body[:1] in ("!", "^") and len(body) > 1
    if negated:
        body = body[1:]
    members: list[str] = []
    ranges: list[tuple[str, str]] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            ranges.append((body[i], body[i + 2]))
            i += 3
        else:
            members.append(body[i])
            i += 1
    return CharSet("".join(members), tuple(ranges), negated)
