"""Splitting command lines into words, and quoting names back into words.

The rules are a small, shell-like subset that people already type without thinking:
whitespace separates words, `;` separates commands, "double" and 'single' quotes
group, and a backslash escapes the next character (outside single quotes).

Two readers share them: `split_commands` for lines being run (a stray quote is an
error), and `scan_words` for the half-typed line in front of the cursor (a stray
quote just means the user is still typing the name).
"""

from __future__ import annotations

from dataclasses import dataclass

_SPECIAL = set(" \t\"'\\;")


class WordError(ValueError):
    """The line cannot be split into words (an unclosed quote, a trailing backslash)."""


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a line: its value without quotes, and where its raw text sits."""

    value: str
    start: int  # index of the first raw character (a quote, when quoted)
    end: int  # index one past the last raw character
    open_quote: str = ""  # the quote still open at the end of the text, if any


@dataclass(frozen=True, slots=True)
class Scan:
    """The words of the last command of a line, as far as it has been typed."""

    words: tuple[Word, ...]
    ends_in_space: bool  # the cursor is after a separator: a new word starts there


def _scan(text: str) -> tuple[list[list[Word]], bool, str]:
    """All commands of `text` as lists of words; whether it ends in a separator; the open quote."""
    commands: list[list[Word]] = [[]]
    value: list[str] = []
    start = -1  # -1: not inside a word
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"' and index + 1 < len(text) and text[index + 1] in '"\\':
                index += 1
                value.append(text[index])
            else:
                value.append(char)
        elif char in " \t;":
            if start >= 0:
                commands[-1].append(Word("".join(value), start, index))
                value, start = [], -1
            if char == ";":
                commands.append([])
        else:
            if start < 0:
                start = index
            if char in "\"'":
                quote = char
            elif char == "\\":
                if index + 1 == len(text):
                    raise WordError("the line ends with a lone backslash")
                index += 1
                value.append(text[index])
            else:
                value.append(char)
        index += 1
    if start >= 0:
        commands[-1].append(Word("".join(value), start, len(text), quote))
    return commands, start < 0, quote


def split_commands(text: str) -> list[list[str]]:
    """The commands of a line, each a list of words; empty commands are dropped.

    >>> split_commands('cd "my docs"; get a.txt')
    [['cd', 'my docs'], ['get', 'a.txt']]
    """
    commands, _, quote = _scan(text)
    if quote:
        raise WordError(f"unclosed quote {quote}")
    return [[word.value for word in command] for command in commands if command]


def scan_words(text: str) -> Scan:
    """The words of the command the cursor is in, tolerating an unclosed quote."""
    try:
        commands, ends_in_space, _ = _scan(text)
    except WordError:  # a lone backslash at the cursor: read the line without it
        commands, ends_in_space, _ = _scan(text[:-1])
        ends_in_space = False
    return Scan(tuple(commands[-1]), ends_in_space)


def quote_word(value: str) -> str:
    """`value` as one word that `split_commands` reads back unchanged.

    Plain names stay as they are; others get double quotes (the usual look of
    `"my file.txt"`), with backslashes before the characters double quotes keep special.
    """
    if value and not any(char in _SPECIAL for char in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
