"""Bad config files and `hash-password` misuse: one line naming the problem, exit status 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aioftp_lite.passwords import verify_password
from tests.support.processes import CLI, hash_password

# --- bad files: one line naming the key, exit status 2 ---------------------------------
BAD_FILES = [
    pytest.param('[server]\nrooot = "x"\n', "server.rooot", id="unknown-key"),
    pytest.param('[limits]\nmax_connections = "ten"\n', "limits.max_connections", id="wrong-type"),
    pytest.param("[limits]\nidle_timeout = true\n", "limits.idle_timeout", id="bool-for-seconds"),
    pytest.param("[limitz]\nmax_connections = 1\n", "[limitz]", id="unknown-section"),
    pytest.param(
        '[[users]]\nname = "a"\npassword_hash = "scrypt$x"\npermissions = ["list", "fly"]\n',
        "users[0].permissions",
        id="bad-permission",
    ),
    pytest.param('[[users]]\nname = "a"\nhome = "a"\n', "users[0].password_hash", id="missing-hash"),
    pytest.param(
        '[[users]]\nname = "a"\npassword_hash = "plain text"\n', "users[0].password_hash", id="not-a-hash"
    ),
    pytest.param("users = [1]\n", "users[0]", id="user-not-a-table"),
    pytest.param("port = 21\n", "port", id="top-level-key"),
    pytest.param("[server\nport = 21\n", "TOML", id="invalid-toml"),
]


@pytest.mark.parametrize(("content", "key"), BAD_FILES)
def test_bad_config_file_gives_one_line_naming_the_key(tmp_path: Path, content: str, key: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    done = subprocess.run(
        [*CLI, "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert key in lines[0] and "Traceback" not in lines[0]
    assert done.stdout == ""


def test_hash_password_refuses_an_empty_password() -> None:
    done = subprocess.run(
        [*CLI, "hash-password", "--stdin"],
        input="\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
    # Two hashes of one password differ (a fresh salt each time).
    assert hash_password("same") != hash_password("same")


def test_hash_password_reads_piped_input_without_stdin_flag() -> None:
    done = subprocess.run([*CLI, "hash-password"], input="piped secret\n", capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("scrypt$") and "Traceback" not in done.stderr
    assert verify_password("piped secret", done.stdout.strip())
