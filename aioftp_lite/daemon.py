"""The running daemon: serve until SIGTERM or SIGINT, reload on SIGHUP, and the process
settings a long-lived server wants (the cycle collector). The command line (cli.py) builds
the settings; this module runs them."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable

from .config import ServerConfig, UsageError
from .logfiles import reopen_log_files
from .server import Server
from .storage.s3_client import StoreError

GC_FIRST_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Fewer and smaller passes of the cycle collector in a long-running server process.

    Serving makes no reference cycles (downloads leave the collector nothing to free),
    yet with the default first threshold (700 allocations) it runs a pass every few
    dozen downloads, and the full passes walk every module and session object: a
    visible share of the server's time in many_small. freeze() moves what start-up created out of
    its sight for good; the higher threshold makes passes rarer. Cycles, such as those of
    error paths, are still collected.
    """
    gc.freeze()
    first, second, third = gc.get_threshold()
    gc.set_threshold(max(first, GC_FIRST_THRESHOLD), second, third)


async def serve(
    config: ServerConfig, worker_index: int | None = None, reread: Callable[[], ServerConfig] | None = None
) -> int:
    """Serve until SIGTERM or SIGINT; SIGHUP reopens the log files and takes accounts and
    limits from `reread()`. A --workers worker counts metrics; its supervisor serves them."""
    server = Server(config, metrics_endpoint=worker_index is None)
    try:
        await server.start()
    except StoreError as error:
        print(
            f"aioftp-lite: error: cannot serve {config.storage_location}: {error.strerror}", file=sys.stderr
        )
        return 2
    except OSError as error:
        reason = os.strerror(error.errno).lower() if error.errno else str(error)
        print(f"aioftp-lite: error: cannot listen on {config.host}:{config.port}: {reason}", file=sys.stderr)
        return 1
    tune_garbage_collector()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    log = logging.getLogger("aioftp_lite.server")
    log.info("event loop: %s", type(loop).__module__.split(".")[0])
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    def hang_up() -> None:
        # First the files, which logrotate has moved: the reload's own lines go to the new ones.
        reopen_log_files()
        server.reopen_logs()
        if reread is not None:
            task = loop.create_task(reload(server, reread))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, hang_up)
    for address in server.addresses:
        if worker_index is None:
            print(f"aioftp-lite serving {config.storage_location} on {config.url_scheme}://{address} "
                  f"({config.access_summary()})", flush=True)  # fmt: skip
        else:
            logging.getLogger("aioftp_lite.workers").info("worker %d serving on %s", worker_index, address)
    for address in server.implicit_tls_addresses:
        if worker_index is None:
            print(f"aioftp-lite serving {config.root} on ftps://{address} (implicit TLS)", flush=True)
    await stop.wait()
    log.info("stopping: no new connections, transfers may finish")
    await server.close()
    return 0


async def reload(server: Server, reread: Callable[[], ServerConfig]) -> None:
    """SIGHUP: read the config file and flags again; a mistake keeps the running settings."""
    log = logging.getLogger("aioftp_lite.server")
    try:
        config = await asyncio.to_thread(reread)
    except (UsageError, OSError) as error:
        log.error("reload failed, the running settings stay: %s", error)
        return
    needs_restart = await server.reload(config)
    logging.getLogger().setLevel(server.config.log_level)
    if needs_restart:
        log.warning("reload: %s changed; a restart applies that", ", ".join(needs_restart))
    log.info("reloaded accounts and limits (%s)", server.config.access_summary())
