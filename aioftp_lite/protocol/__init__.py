"""The FTP grammar, free of I/O: commands, replies, addresses, listings, TYPE A text."""

from .addresses import Address, AddressError
from .commands import Command, CommandSyntaxError, format_command, parse_command
from .listing import FileInfo, format_facts, format_list_line, parse_mlsd_line
from .replies import Code, Reply, ReplyParseError, ReplyParser

__all__ = [
    "Address",
    "AddressError",
    "Code",
    "Command",
    "CommandSyntaxError",
    "FileInfo",
    "Reply",
    "ReplyParseError",
    "ReplyParser",
    "format_command",
    "format_facts",
    "format_list_line",
    "parse_command",
    "parse_mlsd_line",
]
