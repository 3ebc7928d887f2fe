"""`aioftp-lite serve ...`: the daemon's command line.

Errors in the arguments give one line on stderr and exit status 2; a start-up
failure (port in use, ...) one line and exit status 1; SIGTERM or Ctrl-C stop the
server cleanly with exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from .config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_ROOT, ServerConfig
from .server import Server


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake costs one clear line instead of a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def user_argument(text: str) -> tuple[str, str]:
    name, colon, password = text.partition(":")
    if not colon or not name or not password:
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD, got {text!r}")
    return name, password


def port_argument(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="aioftp-lite", description="An FTP server on asyncio.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    serve = commands.add_parser("serve", help="run the FTP server")
    serve.add_argument("--root", type=Path, default=None,
                       help=f"folder to serve (default ./{DEFAULT_ROOT}, created if missing)")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}; ::1 for IPv6)")
    serve.add_argument("--port", type=port_argument, default=DEFAULT_PORT,
                       help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--user", type=user_argument, action="append", default=[], metavar="NAME:PASSWORD",
                       help="a named account with full rights on the root (repeatable)")
    serve.add_argument("--no-anonymous", action="store_true", help="refuse anonymous logins")
    serve.add_argument("--read-only", action="store_true", help="refuse every change (550)")
    serve.add_argument("--show-hidden", action="store_true", help="list dotfiles too")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser  # fmt: skip


def config_from_arguments(arguments: argparse.Namespace) -> ServerConfig:
    if arguments.root is None:
        root = DEFAULT_ROOT  # the default folder is created on demand
    else:
        root = arguments.root
        if not root.is_dir():
            raise SystemExit(f"aioftp-lite: error: root folder {str(root)!r} does not exist or is not a folder")
    return ServerConfig(
        root=root.resolve(),
        host=arguments.host,
        port=arguments.port,
        users=dict(arguments.user),
        allow_anonymous=not arguments.no_anonymous,
        read_only=arguments.read_only,
        show_hidden=arguments.show_hidden,
    )


async def serve(config: ServerConfig) -> int:
    server = Server(config)
    try:
        await server.start()
    except OSError as error:
        reason = os.strerror(error.errno).lower() if error.errno else str(error)
        print(f"aioftp-lite: error: cannot listen on {config.host}:{config.port}: {reason}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    access = "read-only" if config.read_only else "read-write"
    anonymous = f"anonymous {access}" if config.allow_anonymous else "no anonymous login"
    for address in server.addresses:
        print(f"aioftp-lite serving {config.root} on ftp://{address} ({anonymous})", flush=True)
    await stop.wait()
    logging.getLogger("aioftp_lite.server").info("stopping")
    await server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(
        level=arguments.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if arguments.command == "serve":
        return asyncio.run(serve(config_from_arguments(arguments)))
    return 2
