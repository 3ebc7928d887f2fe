"""Where a password comes from when the URL has none: a file, the environment, or ~/.netrc.

In order: the URL, `--password-file F` (`-` is standard input), `$AIOFTP_LITE_PASSWORD`,
then `~/.netrc` (as curl and lftp read it: a `machine` entry for the host, or the
`default` one; a host given without a user takes the entry's login too). What is left
is asked for on the terminal.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import TextIO

from .errors import ShellError
from .target import Target

PASSWORD_VARIABLE = "AIOFTP_LITE_PASSWORD"


def read_password_file(name: str, stdin: TextIO) -> str:
    """The first line of the file (or of standard input for `-`), without its line break."""
    try:
        if name == "-":
            line = stdin.readline()
        else:
            with open(os.path.expanduser(name), encoding="utf-8") as source:
                line = source.readline()
    except OSError as error:
        raise ShellError(f"--password-file {name}: {(error.strerror or str(error)).lower()}") from None
    except UnicodeDecodeError:
        raise ShellError(f"--password-file {name}: not UTF-8 text") from None
    password = line.rstrip("\r\n")
    if not password:
        raise ShellError(f"--password-file {name}: no password on its first line")
    return password


def netrc_path() -> Path:
    return Path(os.environ.get("NETRC") or Path.home() / ".netrc")


def from_netrc(target: Target, path: Path | None = None) -> Target:
    """`target` with the login and password ~/.netrc gives for its host, where it has none.

    A target without a user takes a `machine` entry's login (not the `default` one's,
    which would turn every anonymous `open` into a named login).
    """
    if target.password is not None:
        return target
    path = path or netrc_path()
    if not path.is_file():
        return target
    try:
        entries = netrc.netrc(str(path))
    except (netrc.NetrcParseError, OSError) as error:
        raise ShellError(f"{path}: {error}") from None
    if target.user is None:
        if target.host not in entries.hosts:
            return target
        login, _, password = entries.hosts[target.host]
        if not login or login in ("anonymous", "ftp"):
            return target
        return Target(target.host, target.port, login, password or None, target.path, target.secure)
    found = entries.authenticators(target.host)
    if found is None:
        return target
    login, _, password = found
    if (login and login != target.user) or not password:
        return target
    return target.with_overrides(password=password)
