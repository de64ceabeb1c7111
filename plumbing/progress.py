"""Progress of long work: a bar in the terminal, and a progress artifact that moves in the Prefect UI."""

import sys
import time
from types import TracebackType
from typing import cast
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from rich.progress import Progress

UPDATE_EVERY_SECONDS = 0.5  # an artifact update is an API call: not one per chunk


class ProgressReport:
    """`update(done, total)` moves both the terminal bar (when there is a terminal) and the UI's artifact."""

    def __init__(self, key: str, description: str):
        self.key, self.description = key, description
        self.artifact_id: UUID | None = None
        self.bar: Progress | None = None
        self.last_update = 0.0

    def __enter__(self) -> "ProgressReport":
        self.artifact_id = cast(UUID, create_progress_artifact(0.0, key=self.key, description=self.description))
        if sys.stderr.isatty():
            self.bar = Progress(transient=True)
            self.bar.start()
            self.bar_task = self.bar.add_task(self.description, total=100)
        return self

    def update(self, done: float, total: float) -> None:
        percent = 100.0 * done / total if total else 0.0
        if self.bar is not None:
            self.bar.update(self.bar_task, completed=percent)
        now = time.monotonic()
        if now - self.last_update >= UPDATE_EVERY_SECONDS or done >= total:
            self.last_update = now
            if self.artifact_id is not None:
                update_progress_artifact(self.artifact_id, percent)

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.stop()
