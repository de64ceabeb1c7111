"""What a person sees at the terminal of `python flows/main.py` and `python flows/score.py`: Prefect's lines as it
logs them, and never a traceback; the whole log, tracebacks included, goes to a file (and, as always, to the flow
run's log on the Prefect server), which the command's last line names when it failed. A failure ends with one
`error:` line that says what happened and what to do (flows/cli.py).

The file: $XDG_CACHE_HOME/mnist-flow/logs (else ~/.cache/mnist-flow/logs), one per command, named by its start
time and pid; the KEPT newest are kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

KEPT = 20
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# where the file listens: the root (every logger that propagates, Prefect's run loggers and the adapters' among
# them), and Prefect's extra loggers, which do not propagate
WATCHED = ("", "prefect.extra")


def log_folder() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mnist-flow" / "logs"


def without_traceback(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of `record` that formats to its message alone (the original keeps its traceback for the others)."""
    copy = logging.makeLogRecord(record.__dict__)
    copy.exc_info, copy.exc_text, copy.stack_info = None, None, None
    return copy


def terminal_handlers() -> list[logging.Handler]:
    """The handlers that write to this process's terminal (stderr or stdout), on any logger."""
    named = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(logger for logger in named if isinstance(logger, logging.Logger))]
    found: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and stream in (sys.stderr, sys.stdout, sys.__stderr__):
                found[id(handler)] = handler
    return list(found.values())


class Terminal:
    """For the command's life: tracebacks off the terminal, everything into the log file."""

    def __init__(self) -> None:
        self.path = log_folder() / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        self.file: logging.Handler | None = None
        self.quieted: list[tuple[logging.Handler, Callable[[logging.LogRecord], str]]] = []

    def __enter__(self) -> Terminal:
        with contextlib.suppress(OSError):  # no log file where none can be written: the terminal stays quiet anyway
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = logging.FileHandler(self.path, delay=True, encoding="utf-8")
            self.file.setFormatter(logging.Formatter(FORMAT))
            for name in WATCHED:
                logging.getLogger(name).addHandler(self.file)
            prune(self.path.parent, KEPT)
        for handler in terminal_handlers():
            self.quieted.append((handler, handler.format))
            handler.format = quiet(handler.format)  # type: ignore[method-assign, assignment]
        return self

    def __exit__(self, *exc_info) -> None:
        for handler, original in self.quieted:
            handler.format = original  # type: ignore[method-assign, assignment]
        self.quieted.clear()
        if self.file is not None:
            for name in WATCHED:
                logging.getLogger(name).removeHandler(self.file)
            self.file.close()

    def record(self, what: str, exc: BaseException) -> None:
        """`exc`'s traceback into the log file (and nowhere else)."""
        if self.file is not None:
            traceback = (type(exc), exc, exc.__traceback__)
            self.file.handle(logging.LogRecord("mnist-flow", logging.ERROR, __file__, 0, what, None, traceback))

    @property
    def named(self) -> str:
        """Where the whole log is, for the last line of a command that failed."""
        return f" (the whole log, tracebacks included: {self.path})" if self.file is not None else ""


def quiet(format_record: Callable[[logging.LogRecord], str]) -> Callable[[logging.LogRecord], str]:
    """A handler's format that leaves the record's traceback out."""
    return lambda record: format_record(without_traceback(record))


def prune(folder: Path, kept: int) -> None:
    logs = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in logs[kept:]:
        old.unlink(missing_ok=True)
