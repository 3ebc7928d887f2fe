"""The session's state parts: each part's reset restores exactly its own defaults."""

from __future__ import annotations

from pathlib import Path

from aioftp_lite.auth import Account
from aioftp_lite.protocol.hashes import DEFAULT_ALGORITHM
from aioftp_lite.protocol.listing import ALL_FACTS
from aioftp_lite.server.state import LoginState, SecurityState, TransferParameters
from aioftp_lite.storage.memory import MemoryStorage


def test_a_login_reset_forgets_the_user_but_not_the_virtual_host() -> None:
    login = LoginState()
    assert not login.begun and login.user_name == "-"
    login.virtual_host = "ftp.example.org"
    login.expect_password("alice")
    assert login.begun
    assert login.take_pending_user() == "alice" and login.take_pending_user() is None
    account = Account(name="alice", home=Path("/srv/alice"), permissions=frozenset({"read"}))
    login.complete(account, MemoryStorage())
    assert login.account is account and login.user_name == "alice"
    login.expect_password("bob")
    login.reset()
    assert (login.pending_user, login.account, login.storage) == (None, None, None)
    assert login.virtual_host == "ftp.example.org"  # HOST came before USER: it stays chosen


def test_transfer_parameters_reset_to_a_new_connections_defaults() -> None:
    params = TransferParameters()
    assert (params.ascii_mode, params.restart_offset, params.epsv_all) == (True, 0, False)
    assert params.mode_name == "ASCII"
    params.ascii_mode, params.restart_offset, params.epsv_all = False, 100, True
    params.mlst_facts, params.hash_algorithm = ("size",), "MD5"
    assert params.mode_name == "BINARY"
    assert params.take_restart_offset() == 100 and params.restart_offset == 0
    params.restart_offset = 7
    params.reset()
    assert (params.ascii_mode, params.restart_offset, params.epsv_all) == (True, 0, False)
    assert (params.mlst_facts, params.hash_algorithm) == (ALL_FACTS, DEFAULT_ALGORITHM)


def test_a_new_tls_session_on_the_control_connection_asks_for_pbsz_and_prot_again() -> None:
    security = SecurityState(control_tls=False)
    security.protection_buffer_set = security.protect_data = True
    security.control_secured()
    assert security.control_tls and not security.protection_buffer_set and not security.protect_data
    implicit = SecurityState(control_tls=True)  # the implicit FTPS port
    assert implicit.control_tls and not implicit.protect_data
    implicit.reset()
    assert implicit.control_tls  # a reset of the data protection leaves the connection's TLS alone
