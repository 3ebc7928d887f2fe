"""Where to connect: `ftp://user:pass@host:port/path` and its shorter spellings, parsed purely.

As in curl and lftp: a URL without a user logs in anonymously; the path is relative to
the login folder (`ftp://host/docs`), and `%2F` makes it absolute (`ftp://host/%2Fpub`).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass, replace

DEFAULT_PORT = 21


class TargetError(ValueError):
    """The text does not name an FTP server."""


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int = DEFAULT_PORT
    user: str | None = None  # None: anonymous
    password: str | None = None  # None with a user: ask for it
    path: str = ""  # remote folder to enter after login
    secure: bool = False  # explicit FTPS (ftpes://): AUTH TLS before the login

    @property
    def needs_password(self) -> bool:
        return self.user not in (None, "anonymous", "ftp") and self.password is None

    @property
    def login_user(self) -> str:
        return self.user or "anonymous"

    def display(self) -> str:
        """`alice@host:port`, never the password; `ftpes://` marks a TLS connection."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = "" if self.port == DEFAULT_PORT else f":{self.port}"
        scheme = "ftpes://" if self.secure else ""
        return f"{scheme}{user}{host}{port}"

    def url(self, *, with_password: bool = False) -> str:
        """The target as a URL that `parse_target` reads back (the password only if asked)."""
        scheme = "ftpes" if self.secure else "ftp"
        user = urllib.parse.quote(self.user, safe="") if self.user else ""
        if user and with_password and self.password is not None:
            user += ":" + urllib.parse.quote(self.password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == DEFAULT_PORT else f":{self.port}"
        path = urllib.parse.quote(self.path, safe="/")
        if path.startswith("/"):  # absolute: %2F, since a URL's path is relative to the login folder
            path = "%2F" + path[1:]
        return f"{scheme}://{user}{'@' if user else ''}{host}{port}/{path}"

    def with_overrides(self, *, port: int | None = None, user: str | None = None,
                       password: str | None = None, secure: bool = False) -> Target:  # fmt: skip
        """Flags given beside the URL win over what the URL says (`--tls` only turns TLS on)."""
        return replace(
            self,
            port=self.port if port is None else port,
            user=self.user if user is None else user,
            password=self.password if password is None else password,
            secure=self.secure or secure,
        )


def parse_target(text: str) -> Target:
    """`ftp://user:pass@host:port/path`, `ftpes://...` (explicit TLS), `user@host:port`,
    `host`, `[::1]:2121` -> Target."""
    text = text.strip()
    if not text:
        raise TargetError("no server given")
    if "://" not in text:
        text = "ftp://" + text
    text = _bracket_bare_ipv6(text)
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("ftp", "ftpes"):
        hint = " (implicit FTPS is obsolete; use ftpes:// for AUTH TLS)" if scheme == "ftps" else ""
        raise TargetError(f"only ftp:// and ftpes:// URLs are supported, not {parts.scheme}://{hint}")
    try:
        port = parts.port
    except ValueError as error:
        raise TargetError(f"bad port in {text!r}") from error
    host = parts.hostname
    if not host:
        raise TargetError(f"no host in {text!r}")
    user = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    path = urllib.parse.unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    return Target(
        host, port or DEFAULT_PORT, user or None, password if user else None, path, scheme == "ftpes"
    )


def _bracket_bare_ipv6(url: str) -> str:
    """`ftp://::1/x` -> `ftp://[::1]/x`: a bare IPv6 address has no port (the colons are its own)."""
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    if host.count(":") < 2 or host.startswith("["):
        return url
    try:
        ipaddress.IPv6Address(host.partition("%")[0])
    except ValueError:
        return url
    return f"{scheme}://{userinfo}{at}[{host}]{slash}{path}"
