"""Run pyftpdlib for the benchmark: a writable anonymous user and the named user (its
plain-text password, pyftpdlib's DummyAuthorizer), limits out of the way.

python -m benchmarks.launch_pyftpdlib --root DIR --port PORT
"""

from __future__ import annotations

import argparse
import logging

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

from .scenario_kit import NAMED_PASSWORD, NAMED_USER


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Quiet, as every server in the comparison: per-command logging would be measured too.
    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(args.root, perm="elradfmwMT")
    authorizer.add_user(NAMED_USER, NAMED_PASSWORD, args.root, perm="elradfmwMT")
    handler = type("BenchHandler", (FTPHandler,), {"authorizer": authorizer})
    server = FTPServer((args.host, args.port), handler)
    server.max_cons = 0  # defaults to 512; the scenarios hold up to 10,000 sessions
    server.max_cons_per_ip = 0
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
