"""What stopping a flow did to its training runs, said in one truthful line (the command's last line, the
cancellation hook's log line): how many were stopped and confirmed so, which were not (each with its link), and
what to do about those. Never "cancelled" for a run whose cancellation was not seen taken."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StopReport:
    where: str = ""  # the backend's phrase for where its runs were: "on Azure ML", "" for this machine
    stopped: tuple[str, ...] = ()  # the runs whose stop was confirmed (their names)
    unconfirmed: tuple[tuple[str, str], ...] = ()  # (name, its link or why) of runs not seen stopping

    def __add__(self, other: StopReport) -> StopReport:
        names = {name for name, _ in other.unconfirmed} | set(other.stopped)
        return StopReport(
            self.where or other.where,
            tuple(dict.fromkeys(n for n in self.stopped if n not in names)) + other.stopped,
            tuple(pair for pair in self.unconfirmed if pair[0] not in names) + other.unconfirmed,
        )

    @property
    def complete(self) -> bool:
        return not self.unconfirmed

    def line(self) -> str:
        where = f" {self.where}" if self.where else ""
        total = len(self.stopped) + len(self.unconfirmed)
        if total == 0:
            return f"no training run was running{where}"
        if not self.where:  # this machine's: they end with their process, and are recorded so
            return "the training runs were stopped and marked KILLED"
        if self.complete:
            if total == 1:
                return f"the training run{where} was cancelled (confirmed CancelRequested or ended)"
            return f"the {total} training runs{where} were cancelled (each confirmed CancelRequested or ended)"
        left = "; ".join(f"{name} ({link})" if link else name for name, link in self.unconfirmed)
        return (
            f"{len(self.stopped)} of {total} training runs{where} were cancelled; not confirmed: {left}: "
            "they may still run and bill: cancel them in the studio"
        )
