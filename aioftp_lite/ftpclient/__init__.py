"""The async FTP client API: works with any FTP server, never prints, never imports prompt_toolkit.

    from aioftp_lite import FTPClient, RemoteEntry, FTPReplyError, FTPConnectionLost

    async with FTPClient(host, port, user="alice", password="pw") as client:   # connect + login / quit
        print(await client.pwd())
        for entry in await client.list("docs"):          # RemoteEntry(name, is_dir, size, mtime, facts)
            ...
        with open("a.bin", "wb") as local:
            await client.download("docs/a.bin", local, progress=lambda done: ...)

Contract details (for code built on top, e.g. the REPL):

- `FTPClient(host, port=21, *, timeout=30.0, passive=True, user="anonymous",
  password="anonymous@", use_mlsd=None, tls=False)`. `login()` without arguments uses the
  constructor's user/password. `use_mlsd`: None = MLSD when FEAT announces MLST
  (falling back to LIST if MLSD then turns out missing), False = always LIST
  (parsed by protocol.listing_parse, Unix and DOS formats), True = always MLSD.
- `client.lock` is re-entrant for the task that holds it: a background lister may
  do `async with client.lock: await client.list(path)` (or check `client.busy`
  first to skip while a transfer runs); other tasks wait for it.
- `download(remote, local_file, *, offset=0, progress=None)` and `upload(...)`
  return the bytes moved by *this call* (not counting `offset`); `progress`
  receives the cumulative position including `offset`. With offset > 0 the local
  file is first seeked to `offset` (so open it "r+b"/"ab" for a download resume,
  "rb" for an upload resume). upload(append=True) sends APPE (no REST).
- `list()` leaves out "." and ".."; `names()` returns NLST lines as the server
  sends them.
- Errors: FTPReplyError (4xx/5xx, `.reply.code`, `.reply.text`); FTPConnectionLost
  (the control connection broke, timed out, got 421, or is not open; it is closed
  now, `connect()` again); TimeoutError for a data connection that stalls (the
  control connection is kept: the transfer is aborted with ABOR); ValueError for a
  line break in an argument or a non-seekable local file with an offset.
- Cancelling a task in download/upload/list (e.g. on Ctrl-C) resets the data
  connection, sends ABOR and re-synchronises the control connection (NOOP), then
  lets CancelledError propagate; the client stays usable.
- FTPS (explicit, RFC 4217; `ftpes://`): `tls=True` verifies the server's certificate
  against the system CAs and the host name; `tls=some_ssl_context` for a private CA
  (`aioftp_lite.tls.client_context(cafile=...)`) or no checks at all
  (`client_context(verify=False)`). `connect()` sends AUTH TLS right after the greeting
  and upgrades the control connection; `login()` then sends PBSZ 0 and PROT P, and every
  data connection (passive and active) runs TLS too, resuming the control connection's
  TLS session (servers such as vsftpd insist). `client.secure` tells whether the control
  connection is on TLS. Never a fall back to plain text: a server that refuses AUTH TLS
  gives FTPReplyError ("... the server refused AUTH TLS ..."), one that refuses PBSZ/PROT
  gives FTPReplyError from `login()`; both close the connection. A failed handshake (e.g.
  "certificate verify failed: ...") raises FTPTLSError, a subclass of FTPConnectionLost;
  a failed handshake on a data connection raises ConnectionError ("TLS on the data
  connection failed: ..."), and the control connection is kept (ABOR as for any failure).
- `mtime(path)` (MDTM) and `set_mtime(path, seconds)` (MFMT, where FEAT lists it) read and
  keep file times, as a mirror does.
- Also available: `client.features` (FEAT, upper-case names), `client.greeting`,
  `client.passive` and `client.use_mlsd` (settable at any time).
"""

from .client import FTPClient
from .errors import FTPConnectionLost, FTPReplyError, FTPTLSError
from .listing import RemoteEntry

__all__ = ["FTPClient", "FTPConnectionLost", "FTPReplyError", "FTPTLSError", "RemoteEntry"]
