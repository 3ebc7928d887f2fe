"""dkftpbench's question: how many users can each get R kbit/s from this server?

One trial runs `n` clients at once, each reading at the rate (rate.users_at_rate);
it passes when at least SHARE of them kept the rate. The count doubles from 1 until a
trial fails (or the upper bound passes), then a binary search between the last count
that passed and the first that failed finds the largest that passes. Pure: the trials
are the caller's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

SHARE = 0.95  # of a trial's clients must keep the rate for the trial to pass


async def most_users(passes: Callable[[int], Awaitable[bool]], upper: int) -> int:
    """The largest count in 1..upper for which `passes(count)` holds, assuming that fewer
    clients never do worse than more; 0 when even one client fails."""
    good, bad, count = 0, upper + 1, 1
    while count <= upper:
        if not await passes(count):
            bad = count
            break
        good = count
        if count == upper:
            break
        count = min(2 * count, upper)
    while bad - good > 1:
        middle = (good + bad) // 2
        if await passes(middle):
            good = middle
        else:
            bad = middle
    return good
