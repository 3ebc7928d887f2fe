"""What the client raises: the server said no, or the control connection is gone."""

from __future__ import annotations

from ..errors import FTPError
from ..protocol.replies import Reply


class FTPReplyError(FTPError):
    """The server answered a command with 4xx or 5xx; `.reply` is its answer.

    `str(error)` is the reply as the server put it, e.g. "550 No such file or directory".
    """

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.code, reply.text)


class FTPConnectionLost(ConnectionError):
    """The control connection broke, timed out or was never opened; it is closed now.

    `open`/`connect` again to go on. `.reply` is the server's farewell (e.g. 421) if it sent one.
    """

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class FTPTLSError(FTPConnectionLost):
    """TLS could not be set up on the control connection (the handshake failed, e.g. the
    certificate did not verify); the connection is closed, nothing went out in plain text
    after AUTH TLS. A subclass of FTPConnectionLost, so code that handles a lost connection
    handles this too.
    """
