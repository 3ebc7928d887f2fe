"""The cluster's flags and config keys: mistakes are one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aioftp_lite.cli import build_parser, config_from_arguments


def run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aioftp_lite", "serve", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--state", "http://127.0.0.1:6379/0"], "expected redis://HOST:PORT/DB"),
        (["--state", "redis://127.0.0.1:99999/0"], "bad state URL"),
        (["--state", "redis://127.0.0.1:6379/db"], "is not a number"),
        (["--proxy-trusted", "10.0.0.300"], "not an address or CIDR network"),
    ],
)
def test_bad_flags_are_one_line(tmp_path: Path, arguments: list[str], message: str) -> None:
    result = run("--root", str(tmp_path), *arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_flags_and_config_file(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('[server]\nproxy_protocol = true\nproxy_trusted = ["10.0.0.5/32"]\n'
                      '[state]\nurl = "redis://10.0.0.9:6379/2"\ntimeout = 0.5\nnode_ttl = 20\n')  # fmt: skip
    settings = config_from_arguments(
        build_parser().parse_args(["serve", "--root", str(tmp_path), "--config", str(config)])
    )
    assert settings.proxy_protocol and settings.proxy_trusted == ("10.0.0.5/32",)
    assert (settings.state_url, settings.state_timeout, settings.state_node_ttl) == (
        "redis://10.0.0.9:6379/2",
        0.5,
        20,
    )
    flags = ["serve", "--root", str(tmp_path), "--config", str(config), "--proxy-trusted", "192.0.2.0/24,::1",
             "--state", "redis://127.0.0.1:7000/0"]  # fmt: skip
    settings = config_from_arguments(build_parser().parse_args(flags))
    assert (
        settings.proxy_trusted == ("192.0.2.0/24", "::1") and settings.state_url == "redis://127.0.0.1:7000/0"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('[state]\nurl = "redis://"\n')
    result = run("--root", str(tmp_path), "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2 and "state.url: no host" in result.stderr
