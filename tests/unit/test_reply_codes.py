"""Reply codes are named: the server's code says `Code.INVALID_RESTART`, never `554`, and
an error's kind (an exception class) picks the reply, never the words of its message."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aioftp_lite.protocol.addresses import AddressError, UnsupportedProtocol, parse_eprt_argument
from aioftp_lite.protocol.replies import Code

PACKAGE = Path(__file__).resolve().parents[2] / "aioftp_lite"
# What takes a reply code as its first argument.
REPLY_MAKERS = {"FTPError", "Reply", "reply", "encode_reply"}


def _bare_codes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0]
            if name in REPLY_MAKERS and isinstance(first, ast.Constant) and isinstance(first.value, int):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {name}({first.value}, ...)")
        # A module-level alias such as `SOMETHING = 554` outside the table.
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            value = node.value.value
            if isinstance(value, int) and 100 <= value < 600 and path.name != "replies.py":
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if any(
                    n.isupper() and ("CODE" in n or n.endswith(("_OK", "REFUSED", "RESTART"))) for n in names
                ):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {names[0]} = {value}")
    return found


def test_the_server_names_every_reply_code() -> None:
    files = [*sorted((PACKAGE / "server").rglob("*.py")), PACKAGE / "errors.py", PACKAGE / "tls.py"]
    bare = [hit for path in files for hit in _bare_codes(path)]
    assert not bare, "bare reply codes: " + "; ".join(bare)


@pytest.mark.parametrize(
    ("name", "value"),
    [("SECURITY_RESOURCE_UNAVAILABLE", 431), ("PROTECTION_REQUIRED", 521),
     ("NETWORK_PROTOCOL_NOT_SUPPORTED", 522), ("DATA_TLS_REFUSED", 522), ("DATA_PROTECTION_REFUSED", 534),
     ("PROTECTION_LEVEL_NOT_SUPPORTED", 536), ("INVALID_RESTART", 554),
     ("PARAMETER_NOT_IMPLEMENTED", 504), ("LOCAL_ERROR", 451)],
)  # fmt: skip
def test_the_code_table_has_the_security_and_extension_codes(name: str, value: int) -> None:
    assert Code[name] == value


def test_an_unsupported_eprt_protocol_is_its_own_kind_of_error() -> None:
    with pytest.raises(UnsupportedProtocol):
        parse_eprt_argument("|3|127.0.0.1|2000|")
    # The other problems are plain address errors, whatever their wording.
    for argument in ("|1|::1|2000|", "|2|127.0.0.1|2000|", "|1|nowhere|2000|", "|1|127.0.0.1|0|", "x"):
        with pytest.raises(AddressError) as raised:
            parse_eprt_argument(argument)
        assert not isinstance(raised.value, UnsupportedProtocol), argument
