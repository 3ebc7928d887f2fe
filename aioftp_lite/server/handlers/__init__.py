"""Command handlers, grouped by topic; importing this package fills the command table."""

from . import (
    checksums,
    connection,
    files,
    hello,
    listing,
    login,
    metadata,
    navigation,
    security,
    site,
    status,
    transfers,
)

__all__ = [
    "checksums", "connection", "files", "hello", "listing", "login", "metadata", "navigation", "security",
    "site", "status", "transfers",
]  # fmt: skip
