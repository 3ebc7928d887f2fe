"""Data-connection addresses: PORT/PASV (RFC 959) and EPRT/EPSV (RFC 2428).

Pure grammar, used by the server (parse PORT/EPRT, format PASV/EPSV replies) and
by the client (format PORT/EPRT, parse PASV/EPSV replies).
"""

from __future__ import annotations

import functools
import ipaddress
import re

Address = tuple[str, int]

# re.ASCII: `\d` would otherwise match any Unicode digit ("١", "²"), which FTP does not allow.
_SIX_NUMBERS = re.compile(r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})", re.ASCII)
_PORT_DIGITS = re.compile(r"\d{1,5}", re.ASCII)
_NET_PROTOCOLS = {"1": 4, "2": 6}


class AddressError(ValueError):
    """A malformed or unsupported host/port argument."""


class UnsupportedProtocol(AddressError):
    """EPRT names a network protocol other than 1 (IPv4) and 2 (IPv6): RFC 2428 wants 522."""


def _check_port(port: int) -> int:
    if not 0 < port < 65536:
        raise AddressError(f"port out of range: {port}")
    return port


def _six_numbers_to_address(numbers: tuple[str, ...]) -> Address:
    values = [int(n) for n in numbers]
    if any(v > 255 for v in values):
        raise AddressError("each number must be 0..255")
    host = ".".join(str(v) for v in values[:4])
    return host, _check_port(values[4] * 256 + values[5])


def parse_port_argument(argument: str) -> Address:
    """`h1,h2,h3,h4,p1,p2` -> (host, port)."""
    match = _SIX_NUMBERS.fullmatch(argument.strip())
    if match is None:
        raise AddressError("expected h1,h2,h3,h4,p1,p2")
    return _six_numbers_to_address(match.groups())


def format_port_argument(host: str, port: int) -> str:
    if ipaddress.ip_address(host).version != 4:
        raise AddressError("PORT/PASV carry IPv4 addresses only; use EPRT/EPSV")
    return ",".join([*host.split("."), str(port >> 8), str(port & 0xFF)])


def format_pasv_reply_text(host: str, port: int) -> str:
    return f"Entering Passive Mode ({format_port_argument(host, port)})."


def parse_pasv_reply_text(text: str) -> Address:
    """Find the six numbers anywhere in a 227 reply (servers vary in punctuation)."""
    match = _SIX_NUMBERS.search(text)
    if match is None:
        raise AddressError(f"no address in PASV reply: {text!r}")
    return _six_numbers_to_address(match.groups())


def parse_eprt_argument(argument: str) -> Address:
    """`|1|132.235.1.2|6275|` or `|2|::1|6275|`; any printable delimiter (RFC 2428 2)."""
    argument = argument.strip()
    if len(argument) < 2 or not (33 <= ord(argument[0]) <= 126):
        raise AddressError("expected <d>proto<d>address<d>port<d>")
    delimiter = argument[0]
    parts = argument.split(delimiter)
    if len(parts) != 5 or parts[0] or parts[4]:
        raise AddressError("expected <d>proto<d>address<d>port<d>")
    protocol, host, port_text = parts[1:4]
    version = _NET_PROTOCOLS.get(protocol)
    if version is None:
        raise UnsupportedProtocol(f"network protocol {protocol!r} not supported, use (1,2)")
    try:
        parsed = ipaddress.ip_address(host)
    except ValueError:
        raise AddressError(f"bad address {host!r}") from None
    if parsed.version != version:
        raise AddressError(f"{host} is not an IPv{version} address")
    if not _PORT_DIGITS.fullmatch(port_text):
        raise AddressError(f"bad port {port_text!r}")
    return str(parsed), _check_port(int(port_text))


def format_eprt_argument(host: str, port: int) -> str:
    version = ipaddress.ip_address(host).version
    return f"|{1 if version == 4 else 2}|{host}|{port}|"


def format_epsv_reply_text(port: int) -> str:
    return f"Entering Extended Passive Mode (|||{port}|)"


_EPSV = re.compile(r"\((.)\1\1(\d{1,5})\1\)", re.ASCII)


def parse_epsv_reply_text(text: str) -> int:
    match = _EPSV.search(text)
    if match is None:
        raise AddressError(f"no port in EPSV reply: {text!r}")
    return _check_port(int(match[2]))


@functools.lru_cache(maxsize=4096)  # called per connection with the same few peers
@functools.lru_cache(maxsize=4096)  # the server asks twice per connection, for few distinct peers
def normalize_host(host: str) -> str:
    """Canonical text of an IP address; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes IPv4."""
    parsed = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)
