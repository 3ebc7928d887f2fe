"""pure-ftpd for the benchmarks and their tests: Debian's package, unpacked privately.

Debian's pure-ftpd and vsftpd packages conflict (both are an `ftp-server`), and the runner
measures both: vsftpd is installed, pure-ftpd is fetched with `apt-get download` and unpacked
with `dpkg-deb -x` into a cache folder (CACHE), with any library it links that the system lacks
(one level of the package's `lib*` dependencies), so nothing is installed system-wide.

Its account is a virtual user in a PureDB file made with the package's own `pure-pw`:
anonymous users of pure-ftpd may neither overwrite nor delete, which the scenarios do. The
user is chrooted to the served root and runs as `nobody`; chroot and the switch to the
account's uid need root (unprivileged, pure-ftpd refuses a chrooted account: 421).
"""

from __future__ import annotations

import ctypes
import functools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PACKAGE = "pure-ftpd"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aioftp-lite" / PACKAGE
DAEMON, PURE_PW = Path("usr/sbin/pure-ftpd"), Path("usr/bin/pure-pw")
VERSION = Path("version")  # the package's version, written beside what it unpacked
LIBRARIES = "usr/lib/*-linux-gnu", "lib/*-linux-gnu"  # where Debian puts shared libraries
ACCOUNT_OWNER = "nobody"  # the virtual user's uid and gid: a system account every Debian has
# pure-pw's argon2id hash is calibrated to take 250 ms to 1 s per login, which would make
# setting up 500 clients take minutes; the account gets the C library's SHA-512 crypt hash
# instead, which pure-ftpd checks with crypt(3), as vsftpd's PAM checks /etc/shadow.
CRYPT_PREFIX = b"$6$"
TIMEOUT = 120.0  # each apt-get / dpkg-deb / pure-pw call


class Unavailable(RuntimeError):
    """pure-ftpd cannot be fetched, unpacked or run here; the message says why."""


def _run(command: list[str], cwd: Path | None = None, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, check=False,
                              timeout=TIMEOUT)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unavailable(f"{command[0]}: {error}") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise Unavailable(f"`{' '.join(command[:3])}` failed ({done.returncode}): {last[0]}")
    return done.stdout


def _installed(package: str) -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True,
                          check=False, timeout=30)  # fmt: skip
    return done.stdout.strip().endswith(" installed")


def _missing_libraries(deb: Path) -> list[str]:
    """The `lib*` packages `deb` depends on that are not installed here."""
    depends = _run(["dpkg-deb", "-f", str(deb), "Depends"])
    names = [alternative.split()[0] for entry in depends.split(",") for alternative in entry.split("|")[:1]]
    return [name for name in names if name.startswith("lib") and not _installed(name)]


def _unpack(target: Path) -> None:
    """Download the package (and missing libraries) and unpack them into `target`, atomically:
    another process unpacking at the same time leaves one complete tree."""
    for tool in ("apt-get", "dpkg-deb", "dpkg-query"):
        if shutil.which(tool) is None:
            raise Unavailable(f"no {tool}: pure-ftpd comes from Debian's package")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=target.parent) as scratch:
        work = Path(scratch)
        work.chmod(0o755)  # apt-get downloads as its own `_apt` user where it can
        _run(["apt-get", "download", "-q", PACKAGE], cwd=work)
        (deb,) = work.glob(f"{PACKAGE}_*.deb")
        if libraries := _missing_libraries(deb):
            _run(["apt-get", "download", "-q", *libraries], cwd=work)
        tree = work / "tree"
        for package in sorted(work.glob("*.deb")):
            _run(["dpkg-deb", "-x", str(package), str(tree)])
        (tree / VERSION).write_text(_run(["dpkg-deb", "-f", str(deb), "Version"]))
        try:
            tree.rename(target)
        except OSError:
            if not (target / DAEMON).exists():
                raise


def _library_path(tree: Path) -> list[str]:
    """`LD_LIBRARY_PATH=...` for the libraries unpacked beside the binaries, if any, to
    put after `env` in a command."""
    folders = [
        str(folder) for pattern in LIBRARIES for folder in sorted(tree.glob(pattern)) if folder.is_dir()
    ]
    return [f"LD_LIBRARY_PATH={os.pathsep.join(folders)}"] if folders else []


@functools.cache
def tree() -> Path:
    """The unpacked package (fetched on first use); Unavailable if it cannot be had or run."""
    if not (CACHE / DAEMON).exists():
        _unpack(CACHE)
    unresolved = [
        line.split()[0]
        for binary in (DAEMON, PURE_PW)
        for line in _run(["env", *_library_path(CACHE), "ldd", str(CACHE / binary)]).splitlines()
        if "not found" in line
    ]
    if unresolved:
        raise Unavailable(
            f"pure-ftpd needs libraries neither installed nor unpacked: {', '.join(unresolved)}"
        )
    return CACHE


def version() -> str:
    """The unpacked package's version (as dpkg names it), without fetching it."""
    try:
        return (CACHE / VERSION).read_text().strip()
    except OSError:
        return "not unpacked"


def missing() -> str | None:
    """Why pure-ftpd cannot run here, or None (fetching and unpacking it on first call)."""
    if os.geteuid() != 0:
        return "pure-ftpd needs root here (it chroots its virtual user and switches to the user's uid)"
    try:
        pwd.getpwnam(ACCOUNT_OWNER)
        tree()
    except KeyError:
        return f"no system account {ACCOUNT_OWNER!r} to own the virtual user's files"
    except Unavailable as error:
        return f"pure-ftpd (Debian's package, unpacked privately) is not available: {error}"
    return None


def _sha512_crypt(password: str) -> str:
    """crypt(3)'s SHA-512 hash of `password`, from the C library pure-ftpd checks it with."""
    library = ctypes.CDLL("libcrypt.so.1")
    library.crypt_gensalt.restype = ctypes.c_char_p
    library.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    library.crypt.restype = ctypes.c_char_p
    library.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = library.crypt_gensalt(CRYPT_PREFIX, 0, None, 0)
    hashed = library.crypt(password.encode(), salt) if salt else None
    if not hashed or not hashed.startswith(CRYPT_PREFIX):
        raise Unavailable("libcrypt made no SHA-512 crypt hash")
    return hashed.decode()


def database(root: Path) -> Path:
    """Where make_account puts the PureDB of `root`'s account (beside the root, not in it)."""
    return root.with_name(f"{root.name}.pdb")


def make_account(root: Path, user: str, password: str) -> Path:
    """A PureDB file with the virtual user `user`, chrooted to `root` and running as
    ACCOUNT_OWNER, beside `root`: its path. Made with pure-pw (useradd with the password
    on stdin, then mkdb)."""
    owner = pwd.getpwnam(ACCOUNT_OWNER)
    pure_pw, environment = str(tree() / PURE_PW), _library_path(tree())
    passwd = root.with_name(f"{root.name}.passwd")
    passwd.unlink(missing_ok=True)
    # -C and -M: the shortest calibration pure-pw allows (its hash is replaced below).
    _run(["env", *environment, pure_pw, "useradd", user, "-f", str(passwd), "-u", str(owner.pw_uid),
          "-g", str(owner.pw_gid), "-d", str(root), "-C", "1000", "-M", "8192"],
         stdin=f"{password}\n{password}\n")  # fmt: skip
    fields = passwd.read_text().rstrip("\n").split(":")
    fields[1] = _sha512_crypt(password)
    passwd.write_text(":".join(fields) + "\n")
    pdb = database(root)
    _run(["env", *environment, pure_pw, "mkdb", str(pdb), "-f", str(passwd)])
    return pdb


def command(root: Path, port: int, max_sessions: int) -> list[str]:
    """pure-ftpd in the foreground on 127.0.0.1:`port`, logging in only make_account's user
    (no anonymous, no DNS lookups, no syslog), at most `max_sessions` sessions."""
    daemon = str(tree() / DAEMON)
    return ["env", *_library_path(tree()), daemon, "-S", f"127.0.0.1,{port}", "-l", f"puredb:{database(root)}",
            "-E", "-H", "-f", "none", "-c", str(max_sessions)]  # fmt: skip
