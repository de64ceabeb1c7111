"""The local workspace's write failures, as one sentence that says what to do."""

import functools
from pathlib import Path

from workspaces.errors import FlowError, WorkspaceError
from workspaces.files import explain_os_error


def explained(method):
    """The OS's and SQLite's write failures inside a workspace call, as one WorkspaceError that says what to do
    (a full disk shows up as ENOSPC from a copy, or as "database or disk is full" from MLflow's SQLite)."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except FlowError:
            raise
        except OSError as exc:
            raise explain_os_error(exc, Path(exc.filename or self.root)) from exc
        except Exception as exc:
            if "disk is full" in str(exc) or "disk I/O error" in str(exc):
                raise WorkspaceError(
                    f"no space left on the device writing {self.root / 'mlflow.db'}; free some "
                    "space and run again (the registry's SQLite database is intact)"
                ) from exc
            raise

    return call
