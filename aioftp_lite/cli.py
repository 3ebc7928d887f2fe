"""`aioftp-lite serve ...` and `aioftp-lite hash-password`: the daemon's command line.

Settings come from the defaults, then the config file (`--config`), then the flags:
a flag always wins. Errors in the arguments or the config file give one line on
stderr and exit status 2; a start-up failure (port in use, ...) one line and exit
status 1; SIGTERM or Ctrl-C stop the server cleanly with exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from .config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_ROOT, ServerConfig, UsageError
from .configfile import LOG_LEVELS, ConfigError, load_config_file, parse_listen, parse_port_range
from .daemon import serve
from .defender import parse_safelist
from .logfiles import LOG_FORMATS
from .logfiles import configure_logging as configure_log_handlers
from .passwords import hash_password
from .storage.s3_client import StoreError
from .workers import Supervisor, die_with_supervisor


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


def count_argument(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(text)


def seconds_argument(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}")
    return value


def safelist_argument(text: str) -> tuple[str, ...]:
    entries = tuple(entry.strip() for entry in text.split(",") if entry.strip())
    try:
        parse_safelist(entries)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return entries


def share_argument(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"expected a share of a core above 0 (0.25: a quarter), not {text!r}"
        )
    return value


def storage_argument(text: str) -> tuple[str, str]:
    """--storage s3://BUCKET/PREFIX -> (BUCKET, PREFIX)."""
    from .storage.s3_client import bucket_and_prefix  # no S3 library needed to parse it

    try:
        return bucket_and_prefix(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def state_url_argument(text: str) -> str:
    from .cluster.url import check_state_url  # no Redis library needed to check it

    try:
        return check_state_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def listen_argument(text: str) -> tuple[str, int]:
    try:
        return parse_listen(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def port_range_argument(text: str) -> tuple[int, int]:
    try:
        return parse_port_range(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# Flags that map one-to-one onto ServerConfig fields: (flag, field, type, help).
# Their default is None, meaning "not given": then the config file or the built-in default holds.
SETTING_FLAGS: list[tuple[str, str, Any, str]] = [
    ("--host", "host", str, f"address to listen on (default {DEFAULT_HOST}; ::1 for IPv6)"),
    ("--port", "port", port_argument, f"port (default {DEFAULT_PORT}; 0 picks a free one)"),
    (
        "--max-connections",
        "max_connections",
        count_argument,
        "most clients at once (421 beyond; default: what the open-file limit allows)",
    ),
    ("--max-connections-per-ip", "max_connections_per_ip", count_argument, "most clients per address"),
    (
        "--max-connections-per-user",
        "max_connections_per_user",
        count_argument,
        "most sessions logged in as one account (530 beyond; 0: no limit)",
    ),
    ("--idle-timeout", "idle_timeout", seconds_argument, "close idle control connections (421)"),
    (
        "--data-timeout",
        "data_timeout",
        seconds_argument,
        "wait for a data connection (425); end a transfer that moves nothing this long (426)",
    ),
    ("--passive-ports", "passive_ports", port_range_argument, "passive port range LOW-HIGH"),
    ("--masquerade-address", "masquerade_address", str, "address to announce in PASV replies (NAT)"),
    ("--max-session-rate", "max_session_rate", count_argument, "bytes/s per transfer (0: unlimited)"),
    ("--max-total-rate", "max_total_rate", count_argument, "bytes/s for all transfers together"),
    ("--max-hash-size", "max_hash_size", count_argument, "HASH refuses larger files, in bytes (0: no limit)"),
    (
        "--shutdown-timeout",
        "shutdown_timeout",
        seconds_argument,
        "on SIGTERM, let transfers finish this long",
    ),
    ("--tls-cert", "tls_cert", Path, "certificate (PEM) for explicit FTPS (AUTH TLS)"),
    ("--tls-key", "tls_key", Path, "private key (PEM), if not in the certificate file"),
    (
        "--implicit-tls-port",
        "implicit_tls_port",
        port_argument,
        "also serve implicit FTPS (TLS first) on this port",
    ),
    ("--log-file", "log_file", Path, "also write the log to this file"),
    ("--log-level", "log_level", str.upper, f"one of {', '.join(LOG_LEVELS)} (default INFO)"),
    ("--log-format", "log_format", str.lower, f"one of {', '.join(LOG_FORMATS)} (json: one object per line)"),
    ("--xferlog", "xferlog", Path, "write the wu-ftpd/vsftpd transfer log (xferlog(5)) to this file"),
    (
        "--metrics",
        "metrics_listen",
        listen_argument,
        "serve Prometheus metrics on HOST:PORT/metrics (pip install 'aioftp_lite[metrics]')",
    ),
    (
        "--max-login-failures",
        "max_login_failures",
        count_argument,
        "failed logins within the window that ban an address (default 5; 0: never ban)",
    ),
    (
        "--ban-seconds",
        "ban_seconds",
        seconds_argument,
        "longest ban; bans start at 60 s and double up to it (default 900)",
    ),
    (
        "--ban-safelist",
        "ban_safelist",
        safelist_argument,
        "addresses never banned, CIDR,... (default 127.0.0.0/8,::1; '' for none)",
    ),
    (
        "--login-hash-cpu",
        "login_hash_cpu",
        share_argument,
        "share of one core that password hashing may use (default 0.25)",
    ),
    ("--s3-endpoint", "s3_endpoint", str, "S3 endpoint URL for --storage s3://... (default: AWS)"),
    ("--s3-region", "s3_region", str, "S3 region (default: AWS_REGION)"),
    (
        "--proxy-trusted",
        "proxy_trusted",
        safelist_argument,
        "load balancers allowed to send a PROXY header, CIDR,... (default 127.0.0.0/8,::1)",
    ),
    (
        "--state",
        "state_url",
        state_url_argument,
        "share bans and connection counts with other nodes: redis://HOST:PORT/DB (pip install 'aioftp_lite[cluster]')",
    ),
]
# Switches that can only turn a setting on: (flag, field, value, help).
SWITCHES: list[tuple[str, str, Any, str]] = [
    ("--read-only", "read_only", True, "refuse every change (550)"),
    ("--show-hidden", "show_hidden", True, "list dotfiles too"),
    ("--require-tls", "require_tls", True, "refuse logins and data connections without TLS"),
    (
        "--no-tls-session-reuse",
        "tls_session_reuse",
        False,
        "accept PROT P data connections that do not resume the control connection's TLS session",
    ),
    ("--no-fsync", "fsync", False, "acknowledge uploads without fsync (scratch servers)"),
    (
        "--proxy-protocol",
        "proxy_protocol",
        True,
        "behind a load balancer: take the client's address from its PROXY header (v1 or v2)",
    ),
]


# Anonymous access; by default read-write while no named user is configured, else off.
ANONYMOUS_SWITCHES = [
    ("--no-anonymous", "off", "refuse anonymous logins"),
    ("--anonymous", "read", "let anonymous users list and download (with named users configured)"),
    ("--anonymous-write", "write", "let anonymous users upload, delete and rename too"),
]

EVENT_LOOPS = ("auto", "asyncio", "uvloop")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="aioftp-lite", description="An FTP server on asyncio.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    serve = commands.add_parser("serve", help="run the FTP server")
    serve.add_argument(
        "--root",
        type=Path,
        default=None,
        help=f"folder to serve (default ./{DEFAULT_ROOT}, created if missing)",
    )
    serve.add_argument(
        "--storage",
        type=storage_argument,
        default=None,
        metavar="s3://BUCKET/PREFIX",
        help="serve a bucket instead of --root (credentials: AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY; needs pip install 'aioftp_lite[s3]')",
    )
    serve.add_argument("--config", type=Path, default=None, help="TOML config file (flags override it)")
    serve.add_argument(
        "--user",
        type=user_argument,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="a named account with full rights on the root (repeatable)",
    )
    for flag, field, kind, text in SETTING_FLAGS:
        serve.add_argument(flag, dest=field, type=kind, default=None, help=text)
    for flag, field, value, text in SWITCHES:
        serve.add_argument(flag, dest=field, action="store_const", const=value, default=None, help=text)
    anonymous = serve.add_mutually_exclusive_group()
    for flag, value, text in ANONYMOUS_SWITCHES:
        anonymous.add_argument(flag, dest="anonymous", action="store_const", const=value, help=text)
    serve.add_argument(
        "--workers",
        type=count_argument,
        default=1,
        help="processes sharing the port (SO_REUSEPORT), e.g. one per core",
    )
    serve.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default="auto",
        help="auto (default): uvloop where installed (pip install 'aioftp_lite[fast]'), else asyncio's own",
    )
    # Set by the --workers supervisor for its children only.
    serve.add_argument(
        "--reuse-port",
        dest="reuse_port",
        action="store_const",
        const=True,
        default=None,
        help=argparse.SUPPRESS,
    )
    serve.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    hasher = commands.add_parser("hash-password", help="print a password hash for the config file")
    hasher.add_argument("--stdin", action="store_true", help="read the password from standard input")
    return parser  # fmt: skip


def config_from_arguments(arguments: argparse.Namespace) -> ServerConfig:
    """Defaults, then the config file, then the flags."""
    settings: dict[str, Any] = {}
    if arguments.config is not None:
        try:
            settings.update(load_config_file(arguments.config))
        except ConfigError as error:
            raise UsageError(f"config file {arguments.config}: {error}") from None
    known = {field.name for field in fields(ServerConfig)}
    for name in known & vars(arguments).keys():
        if getattr(arguments, name) is not None:
            settings[name] = getattr(arguments, name)
    if arguments.user:
        settings["users"] = dict(arguments.user)
    if arguments.root is not None:
        settings["root"] = arguments.root
    if arguments.storage is not None:
        settings["storage_backend"] = "s3"
        settings["s3_bucket"], settings["s3_prefix"] = arguments.storage
    if settings.get("storage_backend") == "s3" and not settings.get("s3_bucket"):
        raise UsageError("S3 storage needs a bucket: --storage s3://BUCKET/PREFIX or storage.bucket")
    if "root" in settings and not Path(settings["root"]).is_dir():
        raise UsageError(f"root folder {str(settings['root'])!r} does not exist or is not a folder")
    settings["root"] = Path(settings.get("root", DEFAULT_ROOT)).resolve()  # the default is created on demand
    if settings.get("log_level", "INFO") not in LOG_LEVELS:
        raise UsageError(f"--log-level: expected one of {', '.join(LOG_LEVELS)}")
    if settings.get("log_format", "text") not in LOG_FORMATS:
        raise UsageError(f"--log-format: expected one of {', '.join(LOG_FORMATS)}")
    if settings.get("metrics_listen") and importlib.util.find_spec("prometheus_client") is None:
        raise UsageError("--metrics needs prometheus_client: pip install 'aioftp_lite[metrics]'")
    if settings.get("require_tls") and not settings.get("tls_cert"):
        raise UsageError("--require-tls needs --tls-cert (or tls.cert in the config file)")
    if settings.get("implicit_tls_port") is not None and not settings.get("tls_cert"):
        raise UsageError("--implicit-tls-port needs --tls-cert (or tls.cert in the config file)")
    if settings.get("state_url") and importlib.util.find_spec("redis") is None:
        raise UsageError("--state needs redis-py: pip install 'aioftp_lite[cluster]'")
    for name in ("tls_cert", "tls_key"):
        if settings.get(name) is not None and not Path(settings[name]).is_file():
            raise UsageError(f"{name.replace('_', '-')} file {str(settings[name])!r} does not exist")
    return ServerConfig(**settings)


def configure_logging(config: ServerConfig) -> None:
    configure_log_handlers(config.log_level, config.log_file, config.log_format)


def hash_password_command(from_stdin: bool) -> int:
    # Piped input is a password given on standard input, as with --stdin: asking twice
    # is for a person at a terminal.
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Again: ")
        except (EOFError, KeyboardInterrupt):
            print("\naioftp-lite: error: no password given", file=sys.stderr)
            return 2
        if again != password:
            print("aioftp-lite: error: the passwords differ", file=sys.stderr)
            return 2
    if not password:
        print("aioftp-lite: error: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "hash-password":
        return hash_password_command(arguments.stdin)
    try:
        config = config_from_arguments(arguments)
        configure_logging(config)
    except (UsageError, OSError) as error:
        print(f"aioftp-lite: error: {error}", file=sys.stderr)
        return 2
    if arguments.workers > 1 and config.storage_backend == "s3":
        problem = asyncio.run(storage_problem(config))  # one line here, not one per worker
        if problem:
            print(f"aioftp-lite: error: cannot serve {config.storage_location}: {problem}", file=sys.stderr)
            return 2
    if arguments.workers > 1:
        worker_argv = strip_options(sys.argv[2:] if argv is None else argv[1:], WORKER_SET_OPTIONS)
        try:
            supervisor = Supervisor(config, worker_argv, arguments.workers)
            return asyncio.run(supervisor.run())
        except (ValueError, OSError) as error:
            print(f"aioftp-lite: error: {error}", file=sys.stderr)
            return 1
    if arguments.worker_index is not None:
        die_with_supervisor()
    try:
        factory = loop_factory(arguments.event_loop)
    except UsageError as error:
        print(f"aioftp-lite: error: {error}", file=sys.stderr)
        return 2
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(serve(config, arguments.worker_index, lambda: config_from_arguments(arguments)))


async def storage_problem(config: ServerConfig) -> str | None:
    """What keeps the configured bucket from being served, or None if it can be."""
    from .storage.s3 import S3Settings, open_s3

    settings = S3Settings.from_config(config)
    try:
        client = await open_s3(settings)
    except StoreError as error:
        return error.strerror
    await client.close()
    return None


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop to serve on; None is asyncio's own.

    uvloop is preferred where installed: per connection and per command it costs less
    Python-level work (the figures: benchmarks/README.md, "Why the code is shaped so").
    Bulk data goes through the kernel on either loop.
    """
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise UsageError(
                "--event-loop uvloop: uvloop is not installed (pip install 'aioftp_lite[fast]')"
            ) from None
        return None
    return uvloop.new_event_loop


# Options the supervisor sets itself for each worker.
WORKER_SET_OPTIONS = frozenset({"--workers", "--port", "--passive-ports"})


def strip_options(argv: list[str], names: frozenset[str]) -> list[str]:
    """The serve arguments without `names` (as `--name value` or `--name=value`)."""
    kept: list[str] = []
    skip_value = False
    for word in argv:
        if skip_value:
            skip_value = False
        elif word in names:
            skip_value = True
        elif word.split("=", 1)[0] not in names:
            kept.append(word)
    return kept
