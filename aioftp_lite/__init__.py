"""aioftp_lite: an FTP server and client on asyncio.

    async with aioftp_lite.Server(root="ftp-root", host="127.0.0.1", port=0) as server:
        ...  # server.port is the bound port
"""

from .config import ServerConfig
from .errors import FTPError
from .server import Server
from .storage import LocalStorage, MemoryStorage, Storage

__all__ = ["FTPError", "LocalStorage", "MemoryStorage", "Server", "ServerConfig", "Storage"]
__version__ = "0.1.0"
