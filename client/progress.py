"""Transfer progress: a one-line bar with bytes, rate and ETA, then a summary line.

The bar is redrawn in place (`\\r`) at most ten times a second, and only on a terminal;
scripts and pipes get the summary line alone. The formatting functions are pure.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import Protocol


class TextSink(Protocol):
    """Where lines go: a terminal, a StringIO in tests, or a background job's line forwarder."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_REDRAW_EVERY = 0.1  # seconds


def format_size(size: float) -> str:
    """Bytes as people read them: 512 B, 1.2 MiB."""
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_rate(bytes_per_second: float) -> str:
    return format_size(bytes_per_second) + "/s"


def format_duration(seconds: float) -> str:
    """8 ms, 0.3 s, 12 s, 3:05, 1:02:03."""
    if seconds < 0.1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def format_bar(label: str, done: int, total: int | None, rate: float, width: int) -> str:
    """The progress line: `name [=====>    ]  45% 4.5 MiB/10.0 MiB 3.2 MiB/s ETA 2.0 s`."""
    if not total:  # the server did not tell the size: no bar, just the count
        return f"{label} {format_size(done)} {format_rate(rate)}"[: width - 1]
    fraction = min(done / total, 1.0)
    eta = format_duration((total - done) / rate) if rate > 0 and done < total else "--"
    numbers = f" {fraction:4.0%} {format_size(done)}/{format_size(total)} {format_rate(rate)} ETA {eta}"
    room = width - len(numbers) - 1
    name_room = max(8, room // 3)
    if len(label) > name_room:
        label = "…" + label[-(name_room - 1) :]
    bar_room = room - len(label) - 3
    if bar_room < 5:
        return (label + numbers)[: width - 1]
    filled = int(fraction * bar_room)
    bar = "=" * filled + (">" if filled < bar_room else "") + " " * max(bar_room - filled - 1, 0)
    return f"{label} [{bar}]{numbers}"


def format_summary(verb: str, label: str, size: int, elapsed: float, resumed_from: int = 0) -> str:
    """The line after a transfer: `got a.txt: 1.2 MiB in 0.3 s (4.0 MiB/s)`."""
    moved = size - resumed_from
    rate = moved / elapsed if elapsed > 0 else 0.0
    line = f"{verb} {label}: {format_size(moved)} in {format_duration(elapsed)} ({format_rate(rate)})"
    if resumed_from:
        line += f", resumed at {format_size(resumed_from)}"
    return line


class Progress:
    """One transfer's bar: `update(position)` as data moves, `clear()` and `summary()` at the end."""

    def __init__(self, label: str, total: int | None, stream: TextSink, *, start_at: int = 0, show_bar: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.label = label
        self.total = total
        self.done = start_at
        self.start_at = start_at
        self._stream = stream
        self._show_bar = show_bar
        self._clock = clock
        self._started = clock()
        self._drawn_at = 0.0
        self._drawn = False

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def update(self, position: int) -> None:
        """`position`: bytes of the file done so far (a resume starts at its offset)."""
        self.done = position
        now = self._clock()
        if self._show_bar and now - self._drawn_at >= _REDRAW_EVERY:
            self._drawn_at = now
            self._draw()

    def _draw(self) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        elapsed = self.elapsed
        rate = (self.done - self.start_at) / elapsed if elapsed > 0 else 0.0
        line = format_bar(self.label, self.done, self.total, rate, width)  # a resume shows the whole file
        self._stream.write("\r" + line.ljust(width - 1))
        self._stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Remove the bar, so the next line starts clean."""
        if self._drawn:
            width = shutil.get_terminal_size((80, 24)).columns
            self._stream.write("\r" + " " * (width - 1) + "\r")
            self._stream.flush()
            self._drawn = False

    def summary(self, verb: str) -> str:
        return format_summary(verb, self.label, self.done, self.elapsed, self.start_at)
