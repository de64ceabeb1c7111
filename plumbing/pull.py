"""The deployments' pull step (prefect.yaml): where a worker's flow run gets the project's code.

With a repository set (the Prefect variables `mnist_flow_repository` and `mnist_flow_branch`, which every worker
of the server reads), Prefect's own `git_clone` clones it into the flow run's working folder, afresh for each run:
a process worker started in any folder, on any machine with the project's dependencies, runs the branch as it
is when the run starts. Without one, the run works in the folder `prefect deploy` ran in, which is what
Prefect's default pull step does: every worker on that one machine.
"""

import sys
from typing import cast

from prefect.deployments.steps import git_clone, set_working_directory


def fetch_project_code(repository: str = "", branch: str = "", fallback: str = ".") -> dict[str, str]:
    """Prefect pull step: {"directory": the folder the flow run works in}; Prefect changes into it."""
    try:
        if repository:
            # Prefect calls a step in a thread of its own, where `git_clone` (async_dispatch) runs synchronously
            return cast(dict[str, str], git_clone(repository=repository, branch=branch or None))
        return set_working_directory(fallback)
    finally:
        # Importing this step imported the worker's installed `plumbing`; the flow must import the fetched one
        # (Prefect puts the fetched folder first on sys.path, but a package already imported is not looked up
        # again), so this process forgets it.
        for name in [name for name in sys.modules if name == "plumbing" or name.startswith("plumbing.")]:
            del sys.modules[name]
