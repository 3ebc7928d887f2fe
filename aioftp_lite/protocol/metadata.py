"""Arguments of the metadata commands that mirroring clients send, parsed without I/O.

`SITE UTIME` (ProFTPD's mod_site_misc, sent by lftp) comes in two forms:
    SITE UTIME <path> <atime> <mtime> <ctime> UTC      (times as YYYYMMDDhhmmss)
    SITE UTIME <YYYYMMDDhhmm[ss]> <path>
`MFF` (draft-somers-ftp-mfxx) sets facts: `MFF modify=20240102030405;UNIX.mode=0644; <path>`.
`HOST` (RFC 7151) names a virtual host: a domain name or an address literal in brackets.
"""

from __future__ import annotations

import ipaddress
import re

from .listing import parse_mdtm

# The facts MFF may change, by their lowercase name; the FEAT line spells them as the draft does.
MFF_FACTS = {"modify": "modify", "unix.mode": "UNIX.mode"}
MFF_FEATURE = "MFF " + "".join(f"{name};" for name in MFF_FACTS.values())


class MetadataSyntaxError(ValueError):
    """The argument does not have the command's shape (a 501)."""


class UnsupportedFact(ValueError):
    """MFF names a fact this server cannot change (a 504)."""


def parse_time(text: str) -> float:
    """YYYYMMDDhhmmss or YYYYMMDDhhmm (UTC) -> seconds since the epoch."""
    if len(text) == 12 and text.isdigit():
        text += "00"
    try:
        return parse_mdtm(text)
    except ValueError:
        raise MetadataSyntaxError(f"not a time: {text[:20]!r}") from None


def parse_site_utime(argument: str) -> tuple[str, float]:
    """(path, mtime) from either form of SITE UTIME."""
    words = argument.split(" ")
    if len(words) >= 5 and words[-1].upper() == "UTC":
        path = " ".join(words[:-4])
        if path:
            return path, parse_time(words[-3])
    first, _, path = argument.partition(" ")
    if not path or not first.isdigit():
        raise MetadataSyntaxError(
            "expected SITE UTIME <path> <atime> <mtime> <ctime> UTC or SITE UTIME <time> <path>"
        )
    return path, parse_time(first)


def parse_mff(argument: str) -> tuple[dict[str, str], str]:
    """({fact: value}, path), fact names in lowercase; the facts end with `; `."""
    facts_text, separator, path = argument.partition("; ")
    if not separator or not path or not facts_text:
        raise MetadataSyntaxError("expected MFF <fact>=<value>;[...] <path>")
    facts: dict[str, str] = {}
    for item in filter(None, facts_text.split(";")):
        name, equals, value = item.partition("=")
        if not equals or not name or not value:
            raise MetadataSyntaxError(f"not a fact: {item[:40]!r}")
        if name.lower() not in MFF_FACTS:
            raise UnsupportedFact(name)
        facts[name.lower()] = value
    return facts, path


def parse_mode(text: str) -> int:
    if not text or len(text) > 4 or any(c not in "01234567" for c in text):
        raise MetadataSyntaxError(f"not an octal mode: {text[:20]!r}")
    return int(text, 8)


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def normalize_host_name(argument: str) -> str:
    """A HOST argument in a comparable form: lowercase, no final dot, addresses without brackets."""
    text = argument.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            return str(ipaddress.ip_address(text[1:-1]))
        except ValueError:
            raise MetadataSyntaxError(f"not an address literal: {text[:64]!r}") from None
    try:  # lftp sends a bare address where RFC 7151 asks for brackets
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    name = text.rstrip(".").lower() if text != "." else ""
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise MetadataSyntaxError(f"not a host name: {text[:64]!r}")
    return name
