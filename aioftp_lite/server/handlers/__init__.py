"""Command handlers, grouped by topic; importing this package fills the command table."""

from . import connection, files, listing, login, navigation, security, site, status, transfers

__all__ = ["connection", "files", "listing", "login", "navigation", "security", "site", "status", "transfers"]
