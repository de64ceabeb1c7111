"""A team's MLflow server with basic authentication (docs/deployments-and-teams.md) refuses in two ways, each of
which MLflow reports as an HTTP status in a long exception: 401 when the worker's credentials are missing or
wrong, 403 when its user may not change what it asks to change (an experiment or a registered model another
user created, which default_permission READ lets it read only). Both become one line saying what to do: the
credentials live in the worker's environment, the permissions with the server's admin, and a retry fixes neither.
A read's 403 is left as it is: the server answers 403, not 404, to a user who asks for a registered model that
does not exist (measured, MLflow 3.17.2; its admin gets the 404), which the callers take for "none yet".
"""

import functools
import os

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from workspaces.errors import ConfigError, WorkspaceError

READS = ("get_", "search_", "list_", "download_")
GRANT = "its admin grants the user EDIT on the experiment and the registered model (docs/deployments-and-teams.md)"


def refusal(exc: MlflowException, server: str, operation: str) -> Exception | None:
    """The one-line error for a refusal by the server's authentication; None for any other failure."""
    status = exc.get_http_status_code()
    if status == 401:
        return ConfigError(
            f"the MLflow server {server} did not let this worker in (401: no user, or a wrong password): set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to one of its users"
        )
    if status == 403 and not operation.startswith(READS):
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
        denied = f"refused user {user!r} ({operation}: 403, permission denied)"
        return WorkspaceError(f"the MLflow server {server} {denied}: {GRANT}")
    return None


class AtTheDoor:
    """`client`, whose every call turns a refusal of `server` into its one line (`refusal`), and leaves every other
    MlflowException as it was (the callers catch some: a run not found, an experiment made meanwhile)."""

    def __init__(self, client: MlflowClient, server: str):
        self._client = client
        self._server = server

    def __getattr__(self, name: str):
        method = getattr(self._client, name)
        if not callable(method):
            return method

        @functools.wraps(method)
        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except MlflowException as exc:
                line = refusal(exc, self._server, name)
                if line is None:
                    raise
                raise line from exc

        return call
