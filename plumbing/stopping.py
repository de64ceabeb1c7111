"""How the command (`python flows/main.py`, `python flows/score.py`) stops, whatever stops it.

    what                                         signal, sent to                         exit status
    Ctrl-C at a terminal                         SIGINT, the whole foreground group      130
    kill, timeout, systemd, a container stop     SIGTERM, the command                    143
    the terminal closed                          SIGHUP, the job's process group         129

The first of them interrupts the flow as Ctrl-C always has: a KeyboardInterrupt in the main thread, which Prefect
records as the flow run's crash and answers with the flow's on_crashed hook, which stops the training runs. The
command then sends Prefect what it still holds, stops its temporary server (plumbing/prefect_server.py) and
exits with 128 + the signal's number after one line. A second signal ends it at once: the temporary server is
killed, local runs die with the command (their fork server or PR_SET_PDEATHSIG; the next flow marks them KILLED),
and Azure ML runs not cancelled yet go on.

While a flow runs, Prefect's engine takes SIGTERM itself (it records the crash, runs the hook, then gives the
signal back to the handler here). A signal the command was started ignoring (`nohup`, a background job of a
non-interactive shell) stays ignored.
"""

import contextlib
import os
import signal
import threading
from collections.abc import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
AT_ONCE = (
    "stopped at once by a second {}: local runs end with the command (the next flow marks them KILLED); "
    "Azure ML runs not cancelled yet go on (cancel them in the studio)\n"
)
NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class CommandStop:
    """A context manager for the command's life: the signals above interrupt it once, and end it at once twice.
    `at_once` is what must not outlive the command even then (the temporary server)."""

    def __init__(self, at_once: Callable[[], None] = lambda: None):
        self.at_once = at_once
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def name(self) -> str:
        return NAMES.get(signal.Signals(self.signum), f"signal {self.signum}") if self.signum else ""

    @property
    def exit_status(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            self._end_at_once(signum)
        self.signum = signum
        raise KeyboardInterrupt

    def _end_at_once(self, signum: int) -> None:
        with contextlib.suppress(Exception):
            self.at_once()
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            os.write(2, AT_ONCE.format(NAMES.get(signal.Signals(signum), signum)).encode())
        os._exit(self.exit_status)

    def __enter__(self) -> "CommandStop":
        if threading.current_thread() is threading.main_thread():  # (signals are the main thread's only)
            for signum in SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]  # (what getsignal returned)
        self._previous.clear()
