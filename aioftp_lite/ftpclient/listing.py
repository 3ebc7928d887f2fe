"""Remote folder entries, from MLSD facts or from a parsed LIST reply."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol.listing import parse_mdtm, parse_mlsd_line
from ..protocol.listing_parse import ListedEntry, parse_list
from ..protocol.replies import ENCODING, ERRORS

_NOT_ENTRIES = {".", ".."}


@dataclass(frozen=True)
class RemoteEntry:
    """One name in a remote folder.

    `facts` are the MLSD facts (lower-case names: type, size, modify, perm, unique,
    ...). For entries parsed from LIST they are made up from the line: `type`
    (file, dir, OS.unix=symlink or other), and where the line has them `unix.mode`
    (e.g. rwxr-xr-x), `unix.owner`, `unix.group` and `link` (a symlink's target).
    """

    name: str
    is_dir: bool
    size: int | None
    mtime: float | None
    facts: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_link(self) -> bool:
        kind = self.facts.get("type", "").lower()
        return kind.startswith(("os.unix=slink", "os.unix=symlink"))


def decode_lines(raw: bytes) -> list[str]:
    """Listing bytes -> lines; CRLF or bare LF, UTF-8 with undecodable bytes kept (RFC 2640)."""
    text = raw.decode(ENCODING, ERRORS)
    return [line.rstrip("\r") for line in text.split("\n") if line.rstrip("\r")]


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _mtime_or_none(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_mdtm(text)
    except ValueError:
        return None


def entries_from_mlsd(lines: list[str]) -> list[RemoteEntry]:
    entries = []
    for line in lines:
        try:
            name, facts = parse_mlsd_line(line)
        except ValueError:
            continue  # a line without facts is no entry
        kind = facts.get("type", "").lower()
        if kind in ("cdir", "pdir") or name in _NOT_ENTRIES:
            continue
        entries.append(
            RemoteEntry(
                name=name,
                is_dir=kind == "dir",
                size=_int_or_none(facts.get("size") or facts.get("sizd")),
                mtime=_mtime_or_none(facts.get("modify")),
                facts=facts,
            )
        )
    return entries


def _facts_of(entry: ListedEntry) -> dict[str, str]:
    kind = {"link": "OS.unix=symlink"}.get(entry.kind, entry.kind)
    facts = {"type": kind}
    for key, value in (("unix.mode", entry.mode), ("unix.owner", entry.owner),
                       ("unix.group", entry.group), ("link", entry.link_target or "")):  # fmt: skip
        if value:
            facts[key] = value
    if entry.size is not None:
        facts["size"] = str(entry.size)
    return facts


def entries_from_list(lines: list[str], now: float | None = None) -> list[RemoteEntry]:
    return [
        RemoteEntry(
            name=entry.name,
            is_dir=entry.kind == "dir",
            size=entry.size,
            mtime=entry.mtime,
            facts=_facts_of(entry),
        )
        for entry in parse_list(lines, now)
        if entry.name not in _NOT_ENTRIES
    ]
