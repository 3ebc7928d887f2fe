"""The service files in docs/: the systemd unit parses (`systemd-analyze verify`) with the
hardening it promises, and the Dockerfile's CMD is a command line `aioftp-lite serve` accepts,
publishing the passive range it serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aioftp_lite.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"
UNIT = DOCS / "aioftp-lite.service"
INSTALLED = "/usr/local/bin/aioftp-lite"


def verify(unit: Path) -> list[str]:
    """What `systemd-analyze verify` says about `unit` itself (other units' noise left out)."""
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    said = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    return said + ([f"exit status {done.returncode}"] if done.returncode else [])


def settings(unit_text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit_text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_systemd_unit_parses_and_is_hardened(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (package systemd)")
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED} serve --config /etc/aioftp-lite/config.toml" in text
    # verify also checks that ExecStart's program exists: here, this Python running the server.
    copy = tmp_path / "aioftp-lite.service"
    copy.write_text(text.replace(f"{INSTALLED} serve", f"{sys.executable} -m aioftp_lite serve"))
    assert verify(copy) == []
    # The check itself sees a mistake: a misspelt key and a bad value are reported.
    broken = tmp_path / "broken.service"
    broken.write_text(copy.read_text().replace("PrivateTmp=yes", "PrivateTemp=yes")
                      .replace("ProtectSystem=strict", "ProtectSystem=strictly"))  # fmt: skip
    complaints = verify(broken)
    assert any("PrivateTemp" in line for line in complaints) and any(
        "strictly" in line for line in complaints
    )
    found = settings(text)
    expected = {
        "ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
        "ReadWritePaths": "/srv/ftp", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
        "AmbientCapabilities": "CAP_NET_BIND_SERVICE", "SystemCallFilter": "@system-service",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "ExecReload": "/bin/kill -HUP $MAINPID",
        "User": "aioftp-lite",
    }  # fmt: skip
    for key, value in expected.items():
        assert found.get(key) == [value], key
    assert int(found["LimitNOFILE"][0]) >= 65536


def test_the_dockerfile_runs_a_command_line_serve_accepts() -> None:
    text = (DOCS / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)[1])  # type: ignore[index]
    assert command[:2] == ["aioftp-lite", "serve"]
    flags = [word for word in command if word.startswith("--")]
    help_text = subprocess.run([sys.executable, "-m", "aioftp_lite", "serve", "--help"], capture_output=True,
                               text=True, timeout=30, check=True).stdout  # fmt: skip
    for flag in flags:
        assert re.search(rf"(^|\s){re.escape(flag)}\b", help_text), f"serve --help has no {flag}"
    arguments = build_parser().parse_args(command[1:])  # values too: argparse exits on a bad one
    assert str(arguments.root) == "/srv/ftp" and arguments.port == 2121
    low, high = arguments.passive_ports
    exposed = re.search(r"^EXPOSE (.*)$", text, re.MULTILINE)[1].split()  # type: ignore[index]
    assert exposed == [str(arguments.port), f"{low}-{high}"]
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE), "the server must not run as root"
