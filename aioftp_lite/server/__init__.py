"""The FTP server: listener, sessions, command table and handlers."""

from .server import Server
from .shared import ServerContext

__all__ = ["Server", "ServerContext"]
