"""Explicit FTPS for tests: certificates from a throwaway CA (trustme), a server that offers TLS,
and curl --ssl-reqd."""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from aioftp_lite import Server
from tests.support.clients import accounts_for
from tests.support.tools import CURL

USER, PASSWORD = "alice", "tls pass"


CLIENT_TIMEOUT = 20.0
ACCOUNTS = accounts_for(USER, PASSWORD)


@dataclass
class Certificates:
    ca_pem: Path
    server_pem: Path  # key and certificate chain in one file

    def client_context(self, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_pem))
        if version is not None:
            context.maximum_version = version
        return context


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    result = Certificates(tmp_path / "ca.pem", tmp_path / "server.pem")
    authority.cert_pem.write_to_path(str(result.ca_pem))
    issued.private_key_and_cert_chain_pem.write_to_path(str(result.server_pem))
    return result


def tls_server(root: Path, certs: Certificates, **settings: Any) -> Server:
    return Server(root=root, host="127.0.0.1", port=0, accounts=ACCOUNTS, tls_cert=certs.server_pem,
                  login_failure_delay=0.0, **settings)  # fmt: skip


# --- curl ----------------------------------------------------------------------------------
async def run_curl(*arguments: str) -> str:
    """curl --ssl-reqd -v ...; fails the test if curl fails; returns its stderr (the -v log)."""
    assert CURL is not None
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    process = await asyncio.create_subprocess_exec(
        CURL, "-q", "-v", "--silent", "--show-error", "--noproxy", "*", "--max-time", str(int(CLIENT_TIMEOUT)),
        "--ssl-reqd", *arguments,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=environment,
    )  # fmt: skip
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), CLIENT_TIMEOUT + 5)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"curl did not finish: {arguments}") from None
    log = stderr.decode("utf-8", "replace")
    assert process.returncode == 0, f"curl {arguments} exited {process.returncode}:\n{log[-3000:]}"
    return log
