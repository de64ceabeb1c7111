"""The adapters log with the standard library (they never import Prefect); these lines belong in the run log,
and so do Python warnings, which would otherwise go to the flow process's stderr only.

`forward_workspace_logs` gives the `workspaces` logger the handlers Prefect gives its `extra_loggers`
(console and API), as PREFECT_LOGGING_EXTRA_LOGGERS=workspaces would, without depending on the environment
of whoever starts the flow (a terminal, a worker, a test).
"""

import logging

FORWARDED = ("workspaces", "steps", "py.warnings")  # adapters, steps; warnings (scikit-learn's ConvergenceWarning)


def forward_workspace_logs() -> None:
    logging.captureWarnings(True)
    for name in FORWARDED:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        for handler in logging.getLogger("prefect.extra").handlers:
            if handler not in logger.handlers:
                logger.addHandler(handler)
