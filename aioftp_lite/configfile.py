"""The TOML config file (`--config FILE`): a schema table, checked key by key.

    [server]    root, host, port, anonymous ("off" | "read" | "write"), read_only, show_hidden,
                banner, log_level, log_file, log_format ("text" | "json"), xferlog, fsync,
                hosts = ["ftp.example.com", ...] (HOST),
                proxy_protocol, proxy_trusted = ["10.0.0.5/32", ...] (load balancers)
    [limits]    max_connections, max_connections_per_ip, max_connections_per_user, idle_timeout, data_timeout,
                max_line_length, passive_ports = "50000-50100", masquerade_address,
                login_failure_delay, max_login_failures, login_failure_window, first_ban_seconds,
                ban_seconds, ban_safelist = ["10.0.0.0/8", ...], login_hash_cpu (share of a core),
                login_queue, login_queue_wait,
                max_session_rate, max_total_rate, shutdown_timeout       (rates in bytes/s),
                max_hash_size (bytes; HASH refuses larger files), hook_concurrency, hook_queue,
                hook_timeout (seconds, for the Python callbacks)
    [tls]       cert, key, require, session_reuse, implicit_port (implicit FTPS, 990 by convention)
    [storage]   backend ("local" | "s3"), bucket, prefix, endpoint, region, part_size (bytes,
                at least 5 MiB), timeout (seconds per request); S3 credentials come from the
                AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables
    [state]     url = "redis://HOST:PORT/DB" (bans and connection counts shared by a cluster),
                timeout (seconds per request to it), node_ttl (seconds: a stopped node's counts
                are forgotten after it)
    [metrics]   listen = "127.0.0.1:9121" (Prometheus /metrics)
    [[hooks]]   event = "upload_done", command = ["/usr/local/bin/job"] or url = "http://...",
                timeout (seconds)
    [[users]]   name, password_hash (from `aioftp-lite hash-password`), home, permissions = [...]

Every mistake raises `ConfigError` naming the key, so the CLI can print one clear line.
Relative paths are taken relative to the config file's folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .auth import ANONYMOUS_MODES, PERMISSIONS, UserEntry
from .defender import parse_safelist
from .hooks import HookSpec
from .logfiles import LOG_FORMATS
from .protocol.metadata import MetadataSyntaxError, normalize_host_name

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A problem in the config file, with the key it is about."""


Converter = Callable[[Any, str, Path], Any]


def _integer(value: Any, key: str, _base: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key}: expected a whole number >= 0, got {value!r}")
    return value


def _port(value: Any, key: str, base: Path) -> int:
    number = _integer(value, key, base)
    if number > 65535:
        raise ConfigError(f"{key}: expected a port number 0-65535, got {value!r}")
    return number


def _seconds(value: Any, key: str, _base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{key}: expected a number of seconds >= 0, got {value!r}")
    return float(value)


def _boolean(value: Any, key: str, _base: Path) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return value


def _text(value: Any, key: str, _base: Path) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _path(value: Any, key: str, base: Path) -> Path:
    return (base / _text(value, key, base)).resolve()


def _log_level(value: Any, key: str, base: Path) -> str:
    level = _text(value, key, base).upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"{key}: expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def _anonymous(value: Any, key: str, _base: Path) -> str:
    # true / false as before named users existed: read-write / off.
    if isinstance(value, bool):
        return "write" if value else "off"
    if value not in ANONYMOUS_MODES:
        raise ConfigError(f"{key}: expected one of {', '.join(map(repr, ANONYMOUS_MODES))}, got {value!r}")
    return str(value)


def _safelist(value: Any, key: str, _base: Path) -> tuple[str, ...]:
    entries = value.split(",") if isinstance(value, str) else value
    if not isinstance(entries, list | tuple) or not all(isinstance(entry, str) for entry in entries):
        raise ConfigError(f"{key}: expected a list of addresses or CIDR networks, got {value!r}")
    try:
        parse_safelist(entries)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None
    return tuple(entry.strip() for entry in entries if entry.strip())


def _share(value: Any, key: str, _base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{key}: expected a share of a core above 0 (0.25: a quarter), got {value!r}")
    return float(value)


def parse_port_range(text: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    if not dash or not low.strip().isdigit() or not high.strip().isdigit():
        raise ValueError(f"expected LOW-HIGH, got {text!r}")
    range_ = int(low), int(high)
    if not 1024 <= range_[0] <= range_[1] <= 65535:
        raise ValueError(f"expected 1024 <= LOW <= HIGH <= 65535, got {text!r}")
    return range_


def _port_range(value: Any, key: str, base: Path) -> tuple[int, int]:
    try:
        return parse_port_range(_text(value, key, base))
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def _host_names(value: Any, key: str, _base: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ConfigError(f"{key}: expected a list of host names, got {value!r}")
    try:
        return tuple(normalize_host_name(name) for name in value)
    except MetadataSyntaxError as error:
        raise ConfigError(f"{key}: {error}") from None


def _backend(value: Any, key: str, _base: Path) -> str:
    if value not in ("local", "s3"):
        raise ConfigError(f'{key}: expected "local" or "s3", got {value!r}')
    return str(value)


def _prefix(value: Any, key: str, _base: Path) -> str:
    if not isinstance(value, str) or any(part in (".", "..", "") for part in value.strip("/").split("/")
                                          if value.strip("/")):  # fmt: skip
        raise ConfigError(f'{key}: expected a key prefix such as "ftp/files", got {value!r}')
    return value.strip("/")


def _state_url(value: Any, key: str, base: Path) -> str:
    from .cluster.url import check_state_url

    try:
        return check_state_url(_text(value, key, base))
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def _part_size(value: Any, key: str, base: Path) -> int:
    size = _integer(value, key, base)
    if size < 5 * 1024 * 1024:
        raise ConfigError(f"{key}: S3 parts are at least 5 MiB (5242880 bytes), got {value!r}")
    return size


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT ([::1]:PORT for IPv6) -> (host, port)."""
    host, colon, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _listen(value: Any, key: str, base: Path) -> tuple[str, int]:
    try:
        return parse_listen(_text(value, key, base))
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def _log_format(value: Any, key: str, base: Path) -> str:
    if value not in LOG_FORMATS:
        raise ConfigError(f"{key}: expected one of {', '.join(map(repr, LOG_FORMATS))}, got {value!r}")
    return str(value)


# (section, key) -> (ServerConfig field, converter)
SCHEMA: dict[tuple[str, str], tuple[str, Converter]] = {
    ("server", "root"): ("root", _path),
    ("server", "host"): ("host", _text),
    ("server", "port"): ("port", _port),
    ("server", "anonymous"): ("anonymous", _anonymous),
    ("server", "read_only"): ("read_only", _boolean),
    ("server", "show_hidden"): ("show_hidden", _boolean),
    ("server", "banner"): ("banner", _text),
    ("server", "log_level"): ("log_level", _log_level),
    ("server", "log_file"): ("log_file", _path),
    ("server", "log_format"): ("log_format", _log_format),
    ("server", "xferlog"): ("xferlog", _path),
    ("server", "fsync"): ("fsync", _boolean),
    ("server", "hosts"): ("hosts", _host_names),
    ("server", "proxy_protocol"): ("proxy_protocol", _boolean),
    ("server", "proxy_trusted"): ("proxy_trusted", _safelist),
    ("limits", "max_connections"): ("max_connections", _integer),
    ("limits", "max_connections_per_ip"): ("max_connections_per_ip", _integer),
    ("limits", "max_connections_per_user"): ("max_connections_per_user", _integer),
    ("limits", "idle_timeout"): ("idle_timeout", _seconds),
    ("limits", "data_timeout"): ("data_timeout", _seconds),
    ("limits", "max_line_length"): ("max_line_length", _integer),
    ("limits", "passive_ports"): ("passive_ports", _port_range),
    ("limits", "masquerade_address"): ("masquerade_address", _text),
    ("limits", "login_failure_delay"): ("login_failure_delay", _seconds),
    ("limits", "max_login_failures"): ("max_login_failures", _integer),
    ("limits", "login_failure_window"): ("login_failure_window", _seconds),
    ("limits", "first_ban_seconds"): ("first_ban_seconds", _seconds),
    ("limits", "ban_seconds"): ("ban_seconds", _seconds),
    ("limits", "ban_safelist"): ("ban_safelist", _safelist),
    ("limits", "login_hash_cpu"): ("login_hash_cpu", _share),
    ("limits", "login_queue"): ("login_queue", _integer),
    ("limits", "login_queue_wait"): ("login_queue_wait", _seconds),
    ("limits", "max_session_rate"): ("max_session_rate", _integer),
    ("limits", "max_total_rate"): ("max_total_rate", _integer),
    ("limits", "max_hash_size"): ("max_hash_size", _integer),
    ("limits", "shutdown_timeout"): ("shutdown_timeout", _seconds),
    ("limits", "hook_concurrency"): ("hook_concurrency", _integer),
    ("limits", "hook_queue"): ("hook_queue", _integer),
    ("limits", "hook_timeout"): ("hook_timeout", _seconds),
    ("metrics", "listen"): ("metrics_listen", _listen),
    ("tls", "cert"): ("tls_cert", _path),
    ("tls", "key"): ("tls_key", _path),
    ("tls", "require"): ("require_tls", _boolean),
    ("tls", "session_reuse"): ("tls_session_reuse", _boolean),
    ("tls", "implicit_port"): ("implicit_tls_port", _port),
    ("storage", "backend"): ("storage_backend", _backend),
    ("storage", "bucket"): ("s3_bucket", _text),
    ("storage", "prefix"): ("s3_prefix", _prefix),
    ("storage", "endpoint"): ("s3_endpoint", _text),
    ("storage", "region"): ("s3_region", _text),
    ("storage", "part_size"): ("s3_part_size", _part_size),
    ("storage", "timeout"): ("s3_timeout", _seconds),
    ("state", "url"): ("state_url", _state_url),
    ("state", "timeout"): ("state_timeout", _seconds),
    ("state", "node_ttl"): ("state_node_ttl", _seconds),
}
SECTIONS = sorted({section for section, _ in SCHEMA})


def load_config_file(path: Path) -> dict[str, Any]:
    """Read and check a config file; returns ServerConfig field overrides."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"not valid TOML: {error}") from None
    base = path.resolve().parent
    overrides: dict[str, Any] = {}
    for section, table in document.items():
        if section == "users":
            overrides["accounts"] = _users(table, base)
            continue
        if section == "hooks":
            overrides["hooks"] = _hooks(table)
            continue
        if section not in SECTIONS:
            if not isinstance(table, dict):
                places = ", ".join(f"[{name}]" for name in SECTIONS)
                raise ConfigError(f"{section}: unknown key (settings go in {places} or [[users]])")
            expected = f"{', '.join(SECTIONS)}, [[hooks]] or [[users]]"
            raise ConfigError(f"unknown section [{section}] (expected {expected})")
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: expected a table [{section}]")
        for key, value in table.items():
            entry = SCHEMA.get((section, key))
            if entry is None:
                raise ConfigError(f"{section}.{key}: unknown key")
            field_name, convert = entry
            overrides[field_name] = convert(value, f"{section}.{key}", base)
    return overrides


def _users(users: Any, base: Path) -> dict[str, UserEntry]:
    if not isinstance(users, list):
        raise ConfigError("users: expected [[users]] tables")
    accounts: dict[str, UserEntry] = {}
    for index, user in enumerate(users):
        where = f"users[{index}]"
        if not isinstance(user, dict):
            raise ConfigError(f"{where}: expected a [[users]] table, got {user!r}")
        unknown = set(user) - {"name", "password_hash", "home", "permissions"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
        for required in ("name", "password_hash"):
            if required not in user:
                raise ConfigError(f"{where}.{required}: missing")
        name = _text(user["name"], f"{where}.name", base)
        if name in accounts:
            raise ConfigError(f"{where}.name: user {name!r} is defined twice")
        password_hash = _text(user["password_hash"], f"{where}.password_hash", base)
        if not password_hash.startswith("scrypt$"):
            raise ConfigError(f"{where}.password_hash: expected a hash from `aioftp-lite hash-password`")
        # A relative home is relative to the server root (where the user's files live).
        home = Path(_text(user["home"], f"{where}.home", base)) if "home" in user else None
        permissions = user.get("permissions", sorted(PERMISSIONS))
        allowed = ", ".join(sorted(PERMISSIONS))
        if not isinstance(permissions, list):
            raise ConfigError(f"{where}.permissions: expected a list drawn from {allowed}")
        for permission in permissions:
            if not isinstance(permission, str) or permission not in PERMISSIONS:
                raise ConfigError(f"{where}.permissions: unknown {permission!r} (expected {allowed})")
        accounts[name] = UserEntry(password_hash, home, frozenset(permissions))
    return accounts


def _hooks(hooks: Any) -> tuple[HookSpec, ...]:
    if not isinstance(hooks, list):
        raise ConfigError("hooks: expected [[hooks]] tables")
    specs = []
    for index, hook in enumerate(hooks):
        where = f"hooks[{index}]"
        if not isinstance(hook, dict):
            raise ConfigError(f"{where}: expected a [[hooks]] table, got {hook!r}")
        unknown = set(hook) - {"event", "command", "url", "timeout"}
        if unknown:
            raise ConfigError(f"{where}.{min(unknown)}: unknown key")
        command = hook.get("command", [])
        if not isinstance(command, list) or not all(isinstance(word, str) and word for word in command):
            raise ConfigError(f'{where}.command: expected a list of words, such as ["/usr/local/bin/job"]')
        url = hook.get("url", "")
        if not isinstance(url, str):
            raise ConfigError(f"{where}.url: expected a string, got {url!r}")
        timeout = _seconds(hook.get("timeout", 10.0), f"{where}.timeout", Path())
        try:
            event = _text(hook.get("event"), f"{where}.event", Path())
            specs.append(HookSpec(event, tuple(command), url, timeout))
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
    return tuple(specs)
