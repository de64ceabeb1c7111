"""The floor for a warm run: a one-task Prefect flow that imports everything flows/main.py imports.

A fully cached run of the flow can be no faster than Prefect starting a flow with the same modules loaded;
this is that flow, run the same way (the same Prefect server) by benchmarks/run.py.
"""

import mlflow.store.model_registry.sqlalchemy_store
import mlflow.store.tracking.sqlalchemy_store  # noqa: F401 - flow imports when it opens the local workspace
from prefect import flow, task

import flows.main  # noqa: F401 - the same imports (Prefect, scikit-learn, matplotlib, the tasks) ...
import workspaces.local.workspace  # noqa: F401


@task
def nothing() -> None:
    pass


@flow(name="empty")
def empty() -> None:
    nothing()


if __name__ == "__main__":
    empty()
