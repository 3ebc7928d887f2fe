"""`aioftp-lite-client ftpes://...`: the REPL speaks explicit FTPS, end to end.

A real server task with a certificate from a test CA (trustme) that refuses
anything but TLS; the client is a real process in batch mode.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trustme

from aioftp_lite import Server
from tests.support.clients import ACCOUNTS, PASSWORD, USER
from tests.support.files import sha
from tests.support.processes import run_client


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Path]:
    """(server certificate+key PEM, CA PEM) for 127.0.0.1."""
    authority = trustme.CA()
    certificate = tmp_path / "server.pem"
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certificate))
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca))
    return certificate, ca


async def test_ftpes_url_uploads_lists_and_downloads(
    root: Path, tmp_path: Path, pki: tuple[Path, Path]
) -> None:
    certificate, ca = pki
    local = tmp_path / "local"
    local.mkdir()
    (local / "up.bin").write_bytes(os.urandom(300_000))
    async with Server(root=root, port=0, accounts=ACCOUNTS, tls_cert=certificate, require_tls=True) as server:
        url = f"ftpes://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{server.port}/"
        status, out, err = await run_client(
            url, "--ca-file", str(ca), "-c", "put up.bin; ls; get up.bin back.bin", cwd=local
        )
    assert (status, err) == (0, "")
    assert "up.bin" in out
    assert sha(root / "up.bin") == sha(local / "up.bin") == sha(local / "back.bin")


async def test_ftpes_with_an_untrusted_certificate_fails_in_one_line(
    root: Path, tmp_path: Path, pki: tuple[Path, Path]
) -> None:
    certificate, _ca = pki
    async with Server(root=root, port=0, tls_cert=certificate, require_tls=True) as server:
        status, _out, err = await run_client(f"ftpes://127.0.0.1:{server.port}/", "-c", "ls", cwd=tmp_path)
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and "certificate verify failed" in err, err


async def test_plain_url_against_a_tls_only_server_gets_the_servers_refusal(
    root: Path, tmp_path: Path, pki: tuple[Path, Path]
) -> None:
    certificate, _ca = pki
    async with Server(root=root, port=0, tls_cert=certificate, require_tls=True) as server:
        status, _out, err = await run_client(f"ftp://127.0.0.1:{server.port}/", "-c", "ls", cwd=tmp_path)
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and "530" in err, err
