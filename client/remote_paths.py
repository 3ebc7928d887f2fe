"""Remote paths as the REPL sees them: POSIX strings, relative ones taken from the remote folder.

The cache is keyed by absolute, normalized folder paths, so `docs/../docs/` and `/docs`
share one listing.
"""

from __future__ import annotations

import posixpath


def absolute(cwd: str, path: str) -> str:
    """`path` seen from the remote folder `cwd`, normalized; never climbs above `/`."""
    joined = posixpath.join(cwd or "/", path)
    normal = posixpath.normpath(joined)
    if normal.startswith("//"):  # POSIX keeps a leading `//`; FTP paths have no use for it
        normal = "/" + normal.lstrip("/")
    return normal if normal.startswith("/") else "/" + normal


def split_partial(word: str) -> tuple[str, str]:
    """A half-typed path as (folder part with its trailing '/', name being typed).

    >>> split_partial("docs/2024/re")
    ('docs/2024/', 're')
    """
    folder, slash, name = word.rpartition("/")
    return (folder + slash, name)


def basename(path: str) -> str:
    """The last name of a path, ignoring trailing slashes (`docs/` -> `docs`)."""
    return posixpath.basename(path.rstrip("/")) or path


def has_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")
