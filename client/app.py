"""`aioftp-lite-client`: parse the command line, connect, then run the REPL or a batch.

    aioftp-lite-client ftp://alice@example.org:2121/docs     # asks alice's password
    aioftp-lite-client example.org -p 2121 -u alice
    aioftp-lite-client ftp://host -c "cd docs; get a.txt"    # batch: exit status 1 on failure
    aioftp-lite-client ftp://host < commands.txt             # batch from standard input

Without a user the login is anonymous and nothing is asked. A password missing from the
URL comes from --password-file, $AIOFTP_LITE_PASSWORD or ~/.netrc, or is asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import NoReturn

from aioftp_lite.tls import client_context

from .accounts import PASSWORD_VARIABLE, from_netrc, read_password_file
from .batch import FAILED, run_batch
from .errors import ShellError
from .shell import Shell
from .target import Target, TargetError, parse_target

PROG = "aioftp-lite-client"
KEEPALIVE = 60.0  # seconds; under the idle timeouts servers commonly have (vsftpd: 300)


class OneLineParser(argparse.ArgumentParser):
    """A mistake on the command line costs one line, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def port_number(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="An interactive FTP client with tab completion of remote names.",
                           epilog="Type `help` at the prompt for the commands.")  # fmt: skip
    parser.add_argument(
        "server", nargs="?", metavar="URL", help="ftp://[user[:password]@]host[:port][/folder], or just host"
    )
    parser.add_argument("-p", "--port", type=port_number, help="port (default 21, or the URL's)")
    parser.add_argument(
        "-u", "--user", help="log in as USER; default anonymous (or ~/.netrc's login for the host)"
    )
    parser.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the password from FILE's first line (- for standard input, with -c); else "
        f"${PASSWORD_VARIABLE}, ~/.netrc, or it is asked for on the terminal",
    )
    parser.add_argument(
        "-c",
        "--commands",
        metavar="COMMANDS",
        help='run these commands (separated by ";") and exit, e.g. -c "cd docs; get a.txt"',
    )
    parser.add_argument("--active", action="store_true", help="active mode data connections (EPRT/PORT)")
    parser.add_argument(
        "--tls", action="store_true", help="explicit FTPS (AUTH TLS), as an ftpes:// URL does"
    )
    parser.add_argument("--ca-file", metavar="PEM", help="trust this CA for FTPS (e.g. a private CA)")
    parser.add_argument("--insecure", action="store_true", help="FTPS without checking the certificate")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the server (default 30)"
    )
    parser.add_argument("--keepalive", type=float, default=KEEPALIVE, metavar="SECONDS",
                        help=f"at the prompt, a NOOP after this many idle seconds (default {KEEPALIVE:g})")  # fmt: skip
    return parser  # fmt: skip


def target_from(arguments: argparse.Namespace) -> Target | None:
    if arguments.server is None:
        if arguments.port or arguments.user:
            raise TargetError("give the server too: aioftp-lite-client HOST -p PORT -u USER")
        return None
    target = parse_target(arguments.server)
    return target.with_overrides(port=arguments.port, user=arguments.user, secure=arguments.tls)


def ask_on_tty(message: str) -> str:
    """The password, typed without echo on the controlling terminal (getpass), never read from stdin."""
    try:
        with open("/dev/tty"):
            pass
    except OSError:
        raise ShellError("a password is needed: give it in the URL (ftp://user:password@host)") from None
    return getpass.getpass(message)  # reads /dev/tty, never stdin


async def ask_password_on_terminal(message: str) -> str:
    """Batch mode: ask on the controlling terminal, never on stdin (it carries the commands)."""
    return await asyncio.to_thread(ask_on_tty, message)


def password_for(target: Target, arguments: argparse.Namespace) -> Target:
    """The URL's password, else --password-file, else $AIOFTP_LITE_PASSWORD, else ~/.netrc's."""
    if arguments.password_file is not None:
        if arguments.password_file == "-" and arguments.commands is None:
            raise ShellError("--password-file -: standard input carries the commands; use -c, or a file")
        password = read_password_file(arguments.password_file, sys.stdin)
        return target if target.password is not None else target.with_overrides(password=password)
    if target.password is None and target.user is not None and os.environ.get(PASSWORD_VARIABLE):
        return target.with_overrides(password=os.environ[PASSWORD_VARIABLE])
    return from_netrc(target)


async def run_interactive(shell: Shell, target: Target | None, keepalive: float) -> int:
    from .repl import Repl  # prompt_toolkit's full import is only paid for by the REPL

    repl = Repl(shell, keepalive=keepalive)
    if target is not None:
        await shell.guarded(f"open {target.display()}", shell.open(target))
    await repl.run()
    return 0


async def run_script(shell: Shell, target: Target | None, commands: str | None) -> int:
    shell.error_prefix = f"{PROG}: "
    shell.chatty = False
    shell.prefetch = False
    shell.ask_password = ask_password_on_terminal
    if target is not None and not await shell.guarded(f"open {target.display()}", shell.open(target)):
        await shell.close()
        return FAILED
    return await run_batch(shell, commands)


async def amain(arguments: argparse.Namespace, target: Target | None) -> int:
    interactive = arguments.commands is None and sys.stdin.isatty()
    tls_context = None
    if arguments.ca_file or arguments.insecure:
        try:
            tls_context = client_context(cafile=arguments.ca_file, verify=not arguments.insecure)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            raise ShellError(
                f"--ca-file {arguments.ca_file}: {getattr(error, 'strerror', None) or error}"
            ) from None
    shell = Shell(out=sys.stdout, err=sys.stderr, show_progress=interactive and sys.stdout.isatty(),
                  timeout=arguments.timeout, passive=not arguments.active, tls_context=tls_context)  # fmt: skip
    if interactive:
        return await run_interactive(shell, target, arguments.keepalive)
    return await run_script(shell, target, arguments.commands)


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        target = target_from(arguments)
    except TargetError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    try:
        if target is not None:
            target = password_for(target, arguments)
        if target is not None and target.needs_password:  # asked before anything else starts
            target = target.with_overrides(password=ask_on_tty(f"Password for {target.display()}: "))
        return asyncio.run(amain(arguments, target))
    except ShellError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return FAILED
    except EOFError:
        print(file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
