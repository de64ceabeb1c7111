"""The command lines of `python flows/main.py` and `python flows/score.py`: flags in, the flow's parameters out,
one clear line on error. Each flag is a field of the flow's parameter model, declared there once.

Exit status: 0 when the flow completed; 2 for bad input (nothing was downloaded, provisioned or written);
1 when the flow failed (its error, with a failed run's last log lines); 130, 143 or 129 when stopped by Ctrl-C,
SIGTERM or SIGHUP, after the training runs were stopped (plumbing/stopping.py). The command starts Prefect's
temporary server itself when no Prefect server is configured, and stops it on every way out
(plumbing/prefect_server.py).
"""

import argparse
import concurrent.futures.thread
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from flows.parameters import FlowParameters, TrainingParameters
from workspaces import preload, stop_all_runs
from workspaces.errors import ConfigError, FlowError

# the flags whose name is not the parameter's (the tutorial's and the earlier command line's spelling)
FLAGS = {"mirrors": "--mirror", "idle_seconds_before_scaledown": "--idle-seconds"}
METAVARS = {"regularization": "RATE", "mirrors": "URL_OR_DIR", "dataset": "FILE.json", "vm_size": "SKU", "nodes": "N"}
METAVARS |= {"scaledown": "SECONDS", "timeout": "SECONDS", "config": "FILE", "block": "NAME", "datastore": "NAME"}
METAVARS |= {"model": "VERSION_OR_ALIAS", "images": "FILE_OR_DIR", "labels": "FILE"}


@dataclass(frozen=True)
class CommandLine:
    """A flow's command line: its parameter model, and what to print when the flow completed."""

    prog: str
    description: str
    parameters: type[FlowParameters]
    completed: Callable[[Any], str]
    # its parameters -> what a stop (Ctrl-C, SIGTERM, SIGHUP) did; None: what stopping the training runs did
    interrupted: Callable[[Any], str] | None = None
    reproduce: bool = False  # offers --reproduce VERSION (the training command line)


TRAINING = CommandLine(
    "python flows/main.py",
    "Train the Azure ML tutorial's MNIST model for each regularization rate, register the best.",
    TrainingParameters,
    lambda done: (
        done
        if isinstance(done, str)
        # the plan, or the registered version
        else f"registered model {done.name} version {done.version}: accuracy {done.accuracy:.4f}"
    ),
    reproduce=True,
)


def build_parser(command: CommandLine = TRAINING) -> argparse.ArgumentParser:
    """A flag per field of the flow's parameters (flows/parameters.py), with its description as help: declared
    once, there. A list field's flag is repeated for several values; `--dataset` names a JSON file."""
    parser = argparse.ArgumentParser(
        prog=command.prog,
        description=command.description,
        epilog="Every flag is also a field of the deployments' run form (the parameter of the same name).",
    )
    if command.reproduce:
        parser.add_argument(
            "--reproduce",
            metavar="VERSION_OR_ALIAS",
            help="Instead of a run: rebuild that version of sklearn_mnist from what the registry recorded (code, "
            "data, rate, threads), unregistered, and say whether it is identical, equivalent or different.",
        )
        parser.add_argument(
            "--keep-reproduction",
            action="store_true",
            default=None,
            help="With --reproduce: keep the rebuild's folder (its model, log and data, about 230 MB on MNIST) in "
            "the workspace's reproductions/ after the verdict, instead of removing it.",
        )
    for name, field in command.parameters.model_fields.items():
        flag = FLAGS.get(name, "--" + name.replace("_", "-"))
        help_text = (field.description or "").replace("%", "%%")
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action="store_true", default=None, help=help_text)
            continue
        choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else ()
        last_word = name.split("_")[-1]
        named = METAVARS.get(name) or METAVARS.get(last_word) or last_word.upper()
        metavar = "{" + ",".join(choices) + "}" if choices else named
        if field.default not in (PydanticUndefined, None) and not isinstance(field.default, BaseModel):
            shown = ", ".join(map(str, field.default)) if isinstance(field.default, tuple) else field.default
            help_text += f" (default: {shown})"
        repeated = get_origin(field.annotation) is tuple
        parser.add_argument(
            flag,
            dest=name,
            metavar=metavar,
            action="append" if repeated else "store",
            help=help_text + (" Repeat the flag for several." if repeated else ""),
        )
    return parser


def read_dataset(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--dataset {path!r}: expected a readable JSON file describing the files ({exc})") from None


def flow_arguments(argv: list[str] | None, command: CommandLine = TRAINING) -> dict:
    """The flow's parameters for the flags given, validated: what the flow is called with; ConfigError if one is
    wrong. Only what was given is handed on: the rest resolve in the flow, as in a deployment run."""
    return validated(flags_given(argv, command), command)


def flags_given(argv: list[str] | None, command: CommandLine) -> dict:
    return {k: v for k, v in vars(build_parser(command).parse_args(argv)).items() if v is not None}


def validated(given: dict, command: CommandLine) -> dict:
    if given.pop("keep_reproduction", None) and "reproduce" not in given:
        raise ConfigError("--keep-reproduction keeps what --reproduce rebuilds: give it with --reproduce VERSION")
    given.pop("reproduce", None)  # not a parameter of the flow, nor is --keep-reproduction: main() acts on them
    if "dataset" in given:
        given["dataset"] = read_dataset(given["dataset"])
    return command.parameters.from_flow(given).given(set(given))


def reproduce_version(ref: str, params: Any, keep: bool = False) -> int:
    """--reproduce: 0 when the rebuilt model is identical or equivalent, 1 when different (evidence printed).
    The rebuild's folder is removed once the verdict is printed (it holds a copy of the data), unless `keep`."""
    import shutil
    import time
    from importlib.metadata import version

    import workspaces
    from flows.scoring_parameters import MODEL_REF
    from steps.code import LIBRARIES
    from steps.reproduce import reproduce
    from workspaces.paths import inside

    if not MODEL_REF.match(ref):
        raise ConfigError(f"--reproduce {ref!r}: expected a version number (such as 3) or an alias (such as champion)")
    folder = inside(params.workspace_dir, "reproductions", f"{ref}-{time.strftime('%Y%m%dT%H%M%S')}")
    here = {name: version(name) for name in LIBRARIES}
    try:
        result = reproduce(workspaces.open_local(params.workspace), ref, folder, here)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    kept = [f"  kept in {folder}"] if keep and folder.exists() else []
    print("\n".join([*result.evidence, *kept, result.verdict]))
    return 0 if result.reproduced else 1


# Settings of the temporary server Prefect starts when no PREFECT_API_URL is set; a value the user set is kept.
TEMPORARY_SERVER_DEFAULTS = {
    # Prefect gives it 20 s to answer. On a busy 2-core machine that start has been measured failing the first
    # `make run` ("Timed out while attempting to connect to ephemeral Prefect API server"); waiting longer costs
    # nothing when it is quick.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # its telemetry logs an ERROR on every successful run: with no internet "Failed to send telemetry", with a
    # fresh HOME a 60-line "database is locked" traceback; a run that succeeded must print neither
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def check_command_line(argv: list[str] | None = None, command: CommandLine = TRAINING) -> None:
    """Exit now on --help or bad input: the user should not wait for Prefect and MLflow to load for either.
    Runs before Prefect is imported, so it also sets the defaults Prefect reads when it loads its settings."""
    try:
        flow_arguments(argv, command)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    for name, value in TEMPORARY_SERVER_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from plumbing.prefect_server import TemporaryServer

    TemporaryServer.start_unless_configured()  # it boots while the flow's modules load; main() waits for it


def main(flow, argv: list[str] | None = None, command: CommandLine = TRAINING) -> int:
    try:
        given = flags_given(argv, command)
        ref, keep = given.get("reproduce"), bool(given.get("keep_reproduction"))
        arguments = validated(given, command)
        if ref is not None:
            return reproduce_version(ref, command.parameters.from_flow(arguments), keep)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FlowError as exc:  # --reproduce on a workspace it cannot read or write
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from plumbing.prefect_server import TemporaryServer, owned_temporary_server
    from plumbing.stopping import CommandStop
    from plumbing.terminal import Terminal

    with Terminal() as terminal, CommandStop(at_once=TemporaryServer.kill_running) as stop:
        try:
            with owned_temporary_server():
                status, line = run_to_the_end(flow, arguments, command, terminal)
        except KeyboardInterrupt:  # the runs were stopped inside, while Prefect could still record it
            stopped = (  # what that did (asked again: nothing is sent twice)
                command.interrupted(arguments) if command.interrupted else stop_all_runs().line()
            )
            status, line = stop.exit_status, f"interrupted by {stop.name or 'Ctrl-C (SIGINT)'}: {stopped}"
        except Exception as exc:  # the temporary server could not start, ...: one line, the traceback in the file
            terminal.record("the command failed", exc)
            status, line = 1, f"error: {could_not_run(exc)}{terminal.named}"
    settle(seconds=60)
    with contextlib.suppress(OSError):  # a closed terminal (SIGHUP) cannot be told
        print(line, file=sys.stdout if status == 0 else sys.stderr)
    return status


def settle(seconds: float) -> None:
    """Let the threads the flow left finish (an MLflow store still being opened, its lines still to come), for at
    most `seconds`, so that the command's line is its last: Python would wait for them after it anyway."""
    deadline = time.monotonic() + seconds
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon and ends_by_itself(thread):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


def ends_by_itself(thread: threading.Thread) -> bool:
    """False for a worker of a thread pool still open: it waits for work until Python exits and tells it to stop.
    MLflow keeps such a pool per artifact repository; joined, its idle workers held the command's last line for
    the whole minute (seen in a cold run, measured with py-spy). A pool that was shut down, as the workspace's
    store opener is, ends its workers once their work is done, and is waited for. (CPython's own fields: a pool
    worker runs concurrent.futures.thread._worker with a weak reference to its pool first.)"""
    if getattr(thread, "_target", None) is not concurrent.futures.thread._worker:
        return True
    pool = thread._args[0]()  # type: ignore[attr-defined]
    return pool is None or pool._shutdown


def run_to_the_end(flow, arguments: dict, command: CommandLine, terminal) -> tuple[int, str]:
    """The flow, run: its exit status, and the line that says how it ended (with the log file's name when it
    failed: the tracebacks are there, and in the flow run's log on the Prefect server, not on the terminal)."""
    preload(command.parameters.from_flow(arguments).workspace)  # before the flow run starts: workspaces.preload
    try:
        state = flow(params=arguments, return_state=True)
    except KeyboardInterrupt:
        stop_all_runs()  # already done if the flow was waiting for its runs; nothing is sent twice
        raise
    except Exception as exc:  # the flow never ran (its Prefect server does not answer, ...)
        terminal.record("the flow could not run", exc)
        return 1, f"error: {could_not_run(exc)}{terminal.named}"
    if state.is_completed():
        return 0, command.completed(state.result())
    error = state.result(raise_on_failure=False)
    # a FlowError says what to do (a failed run's with its log's last lines); anything else, its first line: the
    # rest (an SQL statement, a link to a library's docs) is in the log file
    said = str(error) if isinstance(error, FlowError) else (str(state.message).strip().splitlines() or [""])[0]
    if isinstance(error, ConfigError):
        return 2, f"error: {said}"
    return 1, f"error: {said}{terminal.named}"


def could_not_run(exc: BaseException) -> str:
    """One line for an error that kept the flow from running at all: the Prefect server it needs not answering
    (PREFECT_API_URL names one that is not there), or anything else, named."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    server = os.environ.get("PREFECT_API_URL")
    names = f"{type(exc).__name__} {first}".lower()
    if server and any(word in names for word in ("connect", "api", "refused", "unreachable", "httpx")):
        return (
            f"the Prefect server at PREFECT_API_URL={server} does not answer ({type(exc).__name__}: {first}); "
            "start it (prefect server start), or unset PREFECT_API_URL to let the command start a temporary one"
        )
    return f"the flow could not run: {type(exc).__name__}: {first}"
