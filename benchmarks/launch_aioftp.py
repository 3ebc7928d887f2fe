"""Run aioftp's server for the benchmark: a writable anonymous user and the named user (a
plain-text password, aioftp's User), its default settings.

python -m benchmarks.launch_aioftp --root DIR --port PORT
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

import aioftp

from .scenario_kit import NAMED_PASSWORD, NAMED_USER


async def serve(root: Path, host: str, port: int) -> None:
    permissions = [aioftp.Permission("/", readable=True, writable=True)]
    anonymous = aioftp.User(base_path=root, permissions=permissions)  # login=None: the anonymous user
    named = aioftp.User(NAMED_USER, NAMED_PASSWORD, base_path=root, permissions=permissions)
    server = aioftp.Server([anonymous, named])
    await server.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    await stop.wait()
    await server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.root, args.host, args.port))


if __name__ == "__main__":
    main()
