"""A command run as a job at a terminal, for tests that stop it as a person would.

A pseudo-terminal whose session leader (a small stand-in for an interactive shell) starts the command in a
process group of its own and makes that group the terminal's foreground group, as bash with job control does.
So Ctrl-C typed on the terminal (`press_ctrl_c`) is the kernel's SIGINT to the whole foreground group, the command
and every child that stayed in its group, and not a signal to one process. The leader ignores SIGINT, as a shell
does, and reports the job's pid and exit status on a pipe.
"""

import contextlib
import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path

# the shell: take the terminal, start the job in its own group in the foreground, report its pid and its end
SHELL = """
import fcntl, os, signal, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
report, command = int(sys.argv[1]), sys.argv[2:]
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.tcsetpgrp(0, os.getpid())
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGTTOU):  # a job's signals, as a shell sets
        signal.signal(number, signal.SIG_DFL)
    os.execvp(command[0], command)
try:  # (both set the group, as shells do: whichever comes first; once the child has exec'd, only its own counts)
    os.setpgid(pid, pid)
except PermissionError:  # EACCES: the child has exec'd already, in the group it set itself
    pass
os.tcsetpgrp(0, pid)
os.write(report, f"{pid}\\n".encode())
_, status = os.waitpid(pid, 0)
os.write(report, f"{os.waitstatus_to_exitcode(status)}\\n".encode())
"""


class TerminalJob:
    """`command` as the foreground job of a new pseudo-terminal; its output collected line by line."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path | None = None):
        self.master, terminal = pty.openpty()
        report_read, report_write = os.pipe()
        self.shell = subprocess.Popen(
            [sys.executable, "-c", SHELL, str(report_write), *command],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=env,
            cwd=cwd,
            start_new_session=True,
            pass_fds=(report_write,),
        )
        os.close(terminal)
        os.close(report_write)
        self.report = os.fdopen(report_read)
        reported = self.report.readline()
        if not reported.strip():  # the stand-in shell died: what it wrote is on the terminal
            os.set_blocking(self.master, False)
            written = b""
            with contextlib.suppress(OSError):
                written = os.read(self.master, 65536)
            raise RuntimeError(f"the terminal's shell ended before its job started: {written.decode(errors='replace')}")
        self.pid = int(reported)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the terminal's last writer is gone
                break
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            self.lines.extend(line.decode(errors="replace").rstrip("\r") for line in lines)
        if pending:
            self.lines.append(pending.decode(errors="replace"))

    def press_ctrl_c(self) -> None:
        os.write(self.master, b"\x03")  # the terminal's line discipline turns it into SIGINT to the foreground group

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait(self, timeout: float) -> tuple[int, float]:
        """The job's exit status and how long since this call it took to end; TimeoutError after `timeout`."""
        started = time.monotonic()
        os.set_blocking(self.report.fileno(), True)
        ready = threading.Event()
        status: list[int] = []
        threading.Thread(target=lambda: (status.append(int(self.report.readline())), ready.set()), daemon=True).start()
        if not ready.wait(timeout):
            raise TimeoutError(f"the job did not end within {timeout:g} s:\n{self.output[-3000:]}")
        elapsed = time.monotonic() - started
        self.reader.join(timeout=10)
        return status[0], elapsed

    def close(self) -> None:
        """Kill what is left of the job and its terminal (a test that failed half way)."""
        for pid in (self.pid, self.shell.pid):
            with contextlib.suppress(OSError):
                os.killpg(pid, 9)
        self.shell.wait(timeout=30)
        os.close(self.master)
