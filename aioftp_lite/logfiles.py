"""The daemon's log: text or one JSON object per line (`--log-format json`), to stderr and
optionally a file (`--log-file`) that is reopened on SIGHUP, after logrotate moved it."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from .events import event_fields

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message"}, plus the event's fields where the line tells of
    one (a transfer: peer, user, path, size, seconds, result ...)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if event is not None:
            entry.update((key, value) for key, value in event_fields(event).items() if key not in entry)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The text line, with its timestamp's date and time formatted once per second: a busy
    server writes thousands of lines a second, and strftime per line is a visible share
    of a login's cost."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int(record.msecs):03d}"


class ReopeningFileHandler(logging.FileHandler):
    """A log file that `reopen()` closes; the next line opens the file by its name again."""

    def reopen(self) -> None:
        self.acquire()
        try:
            if self.stream is not None:
                self.stream.flush()
                self.stream.close()
            self.stream = None  # FileHandler.emit opens it again
        finally:
            self.release()


def configure_logging(level: str, log_file: Path | None, log_format: str) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(ReopeningFileHandler(log_file, encoding="utf-8"))
    formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    for handler in handlers:
        handler.setFormatter(formatter)
    # The daemon's records need no thread, process or source-line facts: each costs a
    # lookup per line (logging's documented optimisations).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # no stack walk for the caller's line
    logging.basicConfig(level=level, handlers=handlers)


def reopen_log_files() -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, ReopeningFileHandler):
            handler.reopen()
