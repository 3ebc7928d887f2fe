"""aioftp_lite: an FTP server and client on asyncio.

async with aioftp_lite.Server(root="ftp-root", host="127.0.0.1", port=0) as server:
    ...  # server.port is the bound port
"""

from .config import ServerConfig
from .errors import FTPError
from .ftpclient import FTPClient, FTPConnectionLost, FTPReplyError, RemoteEntry
from .server import Server
from .storage import LocalStorage, MemoryStorage, Storage

__all__ = ["FTPClient", "FTPConnectionLost", "FTPError", "FTPReplyError", "LocalStorage", "MemoryStorage",
           "RemoteEntry", "Server", "ServerConfig", "Storage"]  # fmt: skip
__version__ = "0.1.0"
