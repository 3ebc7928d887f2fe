"""Storage backends behind one small interface (`Storage`)."""

from .base import DEFAULT_CHUNK_SIZE, FileReader, FileWriter, Storage, WriteMode
from .local import LocalStorage
from .memory import MemoryStorage

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FileReader",
    "FileWriter",
    "LocalStorage",
    "MemoryStorage",
    "Storage",
    "WriteMode",
]
