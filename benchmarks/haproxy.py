"""HAProxy (Debian's package) in TCP mode in front of FTP nodes, as docs/cluster.md sets it
up: control connections sticky by client address, each node's passive range forwarded to
that node, `send-proxy-v2` on both. Started in the foreground, stopped by its PID.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .processes import terminate

READY_TIMEOUT = 10.0


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (str(path) for path in (Path("/usr/sbin/haproxy"), Path("/usr/bin/haproxy")) if path.exists()), None
    )


@dataclass(frozen=True)
class Node:
    name: str
    host: str  # where the node listens (control and passive)
    port: int
    passive: tuple[int, int]  # its own passive range, the same numbers on the balancer


def cluster_config(
    host: str, port: int, nodes: list[Node], source: str | None = None, pinned: dict[str, int] | None = None
) -> str:
    """The balancer's configuration. `source`: the address it connects to the nodes from;
    `pinned`: extra frontends (name -> port) that always go to one node (maintenance, tests)."""
    via = f" source {source}" if source else ""
    lines = [
        "global",
        "    maxconn 4000",  # each session holds two descriptors here, plus its data connection
        "defaults",
        "    mode tcp",
        "    timeout connect 2s",
        "    timeout client 120s",
        "    timeout server 120s",
        "    retries 2",
        "    option redispatch 1",
        "frontend ftp",
        f"    bind {host}:{port}",
        "    default_backend nodes",
        "backend nodes",
        "    balance source",
        # Consistent hashing: a node that goes down or comes back moves only its own clients.
        "    hash-type consistent",
        # A TCP connect as health check: a dead node is out within half a second, and its
        # clients go to the others (sticky, not stuck). With an explicit check port the check
        # sends no PROXY header (a LOCAL one would make a session per check) and hangs up at
        # once, which the nodes close without a word.
        "    default-server check inter 500ms fall 1 rise 2",
        *(
            f"    server {node.name} {node.host}:{node.port} send-proxy-v2 port {node.port}{via}"
            for node in nodes
        ),
    ]
    for node in nodes:
        low, high = node.passive
        # No port on the server line: the node gets the port the client connected to.
        lines += [f"listen passive_{node.name}", f"    bind {host}:{low}-{high}",
                  f"    server {node.name} {node.host} send-proxy-v2{via}"]  # fmt: skip
    for name, pinned_port in (pinned or {}).items():
        node = next(node for node in nodes if node.name == name)
        lines += [f"listen pinned_{name}", f"    bind {host}:{pinned_port}",
                  f"    server {name} {node.host}:{node.port} send-proxy-v2{via}"]  # fmt: skip
    return "\n".join(lines) + "\n"


class HAProxy:
    def __init__(self, data_dir: Path, config: str, host: str, port: int) -> None:
        self.data_dir = data_dir
        self.config = config
        self.host = host
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise FileNotFoundError("haproxy is not installed (apt-get install haproxy)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "haproxy.cfg"
        path.write_text(self.config, encoding="utf-8")
        with open(self.data_dir / "haproxy.log", "ab") as log:
            self.process = subprocess.Popen([binary, "-db", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_text = (self.data_dir / "haproxy.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"haproxy exited with {self.process.returncode}: {log_text}")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"haproxy not listening after {READY_TIMEOUT:.0f} s")

    def stop(self) -> None:
        terminate(self.process)
