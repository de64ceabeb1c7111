"""The errors this project raises on purpose: one small hierarchy, part of the workspace port's contract.

    FlowError                 anything raised on purpose; its message alone is what the user sees
    ├── ConfigError           bad parameters, environment variables or config files; fix the input (exit status 2)
    ├── DataError             a data file that cannot be fetched whole or is not MNIST-shaped
    ├── WorkspaceError        the workspace cannot be used: not writable, disk full, wrong compute type, no access
    ├── TransientError        may succeed on a second try: network errors, HTTP 429/5xx, a run killed from outside
    └── RunFailed             a training run failed on its own (its script raised, MemoryError): never retried
        └── RunCancelled      the run was stopped because its flow was cancelled or interrupted

Only TransientError is retried (see `is_transient`). A message says what was given, what was expected and what
to do: "unknown backend 'azure'; expected 'local', 'azureml' or 'azureml-v2'".
"""

import re


class FlowError(Exception):
    """Base of every error raised on purpose."""


class ConfigError(FlowError):
    """A parameter, environment variable or configuration file is wrong; nothing has been done yet."""


class DataError(FlowError):
    """A data file could not be fetched whole, or is not what the dataset description says."""


class WorkspaceError(FlowError):
    """The workspace cannot be used as asked (permissions, disk space, an existing resource of another kind)."""


class TransientError(FlowError):
    """A failure that a second try may not meet: the step is retried with exponential back-off."""


class RunFailed(FlowError):
    """A training run ended in failure of its own; retrying would fail the same way."""

    def __init__(self, message: str, run_name: str = "", log_tail: tuple[str, ...] = ()):
        super().__init__(with_log_tail(message, log_tail))
        self.run_name = run_name
        self.log_tail = log_tail


class RunCancelled(RunFailed):
    """The run's process was stopped because its flow was cancelled or interrupted."""


def with_log_tail(message: str, log_tail: tuple[str, ...]) -> str:
    tail = "\n".join(f"    {line}" for line in log_tail)
    return f"{message}\n  last lines of its log:\n{tail}" if tail else message


def is_transient(exc: BaseException | None) -> bool:
    """True for errors that a retry may overcome; used by the tasks' retry_condition_fn."""
    return isinstance(exc, TransientError)


RETRYING = re.compile(r"[;:,]\s*(?:retrying|retried)\b[^;()\n]*")


def given_up(error: TransientError) -> TransientError:
    """`error` once its step's retries are spent: its text no longer says it is being retried (its last line would
    say "retrying" with no retry left), and it says what is left to do. A log tail below its first line stays."""
    first, _, rest = str(error).partition("\n")
    said = " ".join(RETRYING.sub(" ", first).split()).rstrip(" ;:,")
    said += "; its step was retried and gave up: run the flow again once the cause has passed"
    return TransientError(f"{said}\n{rest}" if rest else said)
