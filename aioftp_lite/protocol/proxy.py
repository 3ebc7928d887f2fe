"""The PROXY protocol header (HAProxy's spec, versions 1 and 2): the client's address as a
load balancer saw it, sent before the first byte of the proxied connection.

    v1: b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 21\\r\\n"   (text, at most 107 bytes)
    v2: a 12-byte signature, version/command, family/transport, a 16-bit length, then
        the addresses and optional TLVs (binary, at most 16 + 65535 bytes)

`parse_header` works on a buffer that may still be incomplete, so a reader can feed it
what has arrived and read on only when told. No I/O here: the server reads the bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

V1_PREFIX = b"PROXY "
V1_MAX_LENGTH = 107  # the spec's bound, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_HEADER_LENGTH = 16  # signature, version/command, family, length
V2_MAX_LENGTH = V2_HEADER_LENGTH + 0xFFFF
# Bytes that tell the versions apart: a buffer shorter than this may still become either.
SIGNATURE_PREFIX_LENGTH = len(V2_SIGNATURE)

_V2_LOCAL, _V2_PROXY = 0x0, 0x1
_V2_INET, _V2_INET6 = 0x1, 0x2
_V2_STREAM = 0x1
# Address block sizes by family: two addresses and two ports (UNIX: two 108-byte paths).
_V2_ADDRESS_SIZES = {_V2_INET: 12, _V2_INET6: 36, 0x3: 216}


class ProxyHeaderError(ValueError):
    """Not a valid PROXY header: the connection must be closed."""


@dataclass(frozen=True)
class ProxyHeader:
    """A complete header. `source` is None when the header carries no client address
    (v1 UNKNOWN, a v2 LOCAL command such as a health check, or a family other than
    TCP over IPv4/IPv6): the connection's own endpoints then stand."""

    version: int
    length: int  # bytes the header took, from the first byte of the connection
    source: tuple[str, int] | None = None
    destination: tuple[str, int] | None = None


def starts_like_header(data: bytes) -> bool:
    """Whether `data` (the first bytes of a connection) begins as a PROXY header would."""
    size = min(len(data), SIGNATURE_PREFIX_LENGTH)
    return bool(data) and (
        V2_SIGNATURE.startswith(data[:size]) or V1_PREFIX.startswith(data[: min(size, len(V1_PREFIX))])
    )


def parse_header(data: bytes) -> ProxyHeader | None:
    """The header at the start of `data`; None while more bytes are needed.

    Raises ProxyHeaderError for anything that is not a well-formed header, as soon as
    the bytes show it (a buffer that can no longer become a header is refused at once).
    """
    if not data:
        return None
    if data[:1] == V2_SIGNATURE[:1]:
        return _parse_v2(data)
    if data[:1] == V1_PREFIX[:1]:
        return _parse_v1(data)
    raise ProxyHeaderError("no PROXY protocol header")


def _parse_v1(data: bytes) -> ProxyHeader | None:
    if not V1_PREFIX.startswith(data[: len(V1_PREFIX)]):
        raise ProxyHeaderError("no PROXY protocol header")
    end = data.find(b"\r\n", 0, V1_MAX_LENGTH)
    if end < 0:
        if len(data) >= V1_MAX_LENGTH or b"\n" in data[:V1_MAX_LENGTH]:
            raise ProxyHeaderError(f"PROXY v1 header without CRLF in its first {V1_MAX_LENGTH} bytes")
        return None
    try:
        line = data[:end].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("PROXY v1 header is not ASCII") from None
    words = line.split(" ")
    length = end + 2
    if len(words) >= 2 and words[1] == "UNKNOWN":
        return ProxyHeader(1, length)  # the sender knows no address: anything may follow
    if len(words) != 6 or words[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError(f"malformed PROXY v1 header: {line[:60]!r}")
    version = 4 if words[1] == "TCP4" else 6
    source = _address(words[2], version), _port(words[4])
    destination = _address(words[3], version), _port(words[5])
    return ProxyHeader(1, length, source, destination)


def _address(text: str, version: int) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyHeaderError(f"bad address in PROXY header: {text[:45]!r}") from None
    if address.version != version:
        raise ProxyHeaderError(f"IPv{address.version} address {text!r} in a TCP{version} PROXY header")
    return str(address)


def _port(text: str) -> int:
    # Decimal, no sign, no leading zero (the spec's grammar), at most 65535.
    if not text.isdigit() or not text.isascii() or (len(text) > 1 and text[0] == "0") or int(text) > 65535:
        raise ProxyHeaderError(f"bad port in PROXY header: {text[:8]!r}")
    return int(text)


def _parse_v2(data: bytes) -> ProxyHeader | None:
    signature = data[: len(V2_SIGNATURE)]
    if not V2_SIGNATURE.startswith(signature):
        raise ProxyHeaderError("no PROXY protocol header")
    if len(data) < V2_HEADER_LENGTH:
        return None
    version_command, family_transport, block_length = struct.unpack_from("!BBH", data, 12)
    if version_command >> 4 != 2:
        raise ProxyHeaderError(f"PROXY v2 header of unknown version {version_command >> 4}")
    command = version_command & 0x0F
    if command not in (_V2_LOCAL, _V2_PROXY):
        raise ProxyHeaderError(f"PROXY v2 header with unknown command {command}")
    length = V2_HEADER_LENGTH + block_length
    if len(data) < length:
        return None
    family, transport = family_transport >> 4, family_transport & 0x0F
    needed = _V2_ADDRESS_SIZES.get(family, 0)
    if family > 0x3 or transport > 0x2:
        raise ProxyHeaderError(f"PROXY v2 header with unknown family/transport 0x{family_transport:02x}")
    if block_length < needed:
        raise ProxyHeaderError(f"PROXY v2 address block of {block_length} bytes, {needed} needed")
    if command == _V2_LOCAL or transport != _V2_STREAM or family not in (_V2_INET, _V2_INET6):
        return ProxyHeader(2, length)  # no TCP client address to take: the real endpoints stand
    block = data[V2_HEADER_LENGTH : V2_HEADER_LENGTH + needed]
    size = 4 if family == _V2_INET else 16
    source_ip = ipaddress.ip_address(block[:size])
    destination_ip = ipaddress.ip_address(block[size : 2 * size])
    source_port, destination_port = struct.unpack_from("!HH", block, 2 * size)
    return ProxyHeader(2, length, (str(source_ip), source_port), (str(destination_ip), destination_port))


def encode_v1(source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    """A v1 header (for tests and tools)."""
    family = "TCP6" if ":" in source[0] else "TCP4"
    return f"PROXY {family} {source[0]} {destination[0]} {source[1]} {destination[1]}\r\n".encode("ascii")


def encode_v2(
    source: tuple[str, int] | None, destination: tuple[str, int] | None = None, tlvs: bytes = b""
) -> bytes:
    """A v2 header: PROXY over TCP with the two addresses, or LOCAL when `source` is None."""
    if source is None:
        return V2_SIGNATURE + struct.pack("!BBH", 0x20 | _V2_LOCAL, 0, len(tlvs)) + tlvs
    destination = destination or (("::" if ":" in source[0] else "0.0.0.0"), 0)
    source_ip, destination_ip = ipaddress.ip_address(source[0]), ipaddress.ip_address(destination[0])
    family = _V2_INET if source_ip.version == 4 else _V2_INET6
    block = source_ip.packed + destination_ip.packed + struct.pack("!HH", source[1], destination[1]) + tlvs
    return V2_SIGNATURE + struct.pack("!BBH", 0x20 | _V2_PROXY, family << 4 | _V2_STREAM, len(block)) + block
