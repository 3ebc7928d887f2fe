"""The FTP server: listener, sessions, command table and handlers."""

from .server import Server, ServerContext

__all__ = ["Server", "ServerContext"]
