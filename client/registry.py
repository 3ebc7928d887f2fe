"""Every REPL verb in one table, in the order `help` lists them.

The verb modules only declare their verbs (`@verb` makes each handler a `Verb`); this
module puts them in the table. It is imported by the shell, not by `commands.py`, so no
verb module is loaded by the table it belongs to. Within each group of the menu the verbs
appear in the order below; completion sorts names itself.
"""

from __future__ import annotations

from . import actions, bookmarks, everyday, jobs, mirror, pget, transfers
from .commands import Verb, register

ORDER: tuple[Verb, ...] = (
    # Connection
    actions.open_, actions.close, bookmarks.bookmark,
    # Remote files
    actions.ls, actions.cd, actions.pwd, actions.rm, actions.mrm, actions.mkdir, actions.rmdir, actions.mv,
    everyday.cat, everyday.more, everyday.edit, everyday.chmod, everyday.du, everyday.find,
    # Transfers
    transfers.get, transfers.put, transfers.mget, transfers.mput, mirror.mirror, pget.pget,
    jobs.jobs, jobs.fg, jobs.kill, jobs.queue,
    # Local files
    actions.lcd, actions.lls, actions.lpwd, everyday.bang,
    # Session
    actions.help_, actions.quit_, everyday.quote, everyday.site,
)  # fmt: skip

TABLE = register(ORDER)
