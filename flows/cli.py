"""The command line of `python flows/main.py`: flags in, the flow's parameters out, one clear line on error.

Exit status: 0 when the flow completed; 2 for bad input (nothing was downloaded, provisioned or written);
1 when the flow failed (its error, with a failed run's last log lines); 130 when interrupted (Ctrl-C), after
the training runs were stopped.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from flows.parameters import TrainingParameters
from workspaces import stop_all_runs
from workspaces.errors import ConfigError, FlowError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python flows/main.py",
        description="Train the Azure ML tutorial's MNIST model for each regularization rate, register the best.",
        epilog="Defaults come from the environment where noted; every flag is also a deployment parameter.",
    )
    add = parser.add_argument
    add(
        "--regularization",
        action="append",
        metavar="RATE",
        help="regularization rate of one training run (C = 1/RATE); repeat for several runs (default: 0.8)",
    )
    add("--experiment-name", metavar="NAME", help="experiment the runs belong to (default: sklearn-mnist)")
    add("--backend", metavar="NAME", help="'local' (default: a folder, no cloud account) or 'azureml'")
    add(
        "--workspace-dir",
        metavar="DIR",
        help="the local workspace, and the cache of every backend (default: $MNIST_FLOW_WORKSPACE or .workspace)",
    )
    add(
        "--mirror",
        action="append",
        dest="mirrors",
        metavar="URL_OR_DIR",
        help="where to download MNIST from: http(s)/file URL or folder, tried in order; repeatable "
        "(default: $MNIST_MIRROR, comma-separated, or the public mirrors)",
    )
    add(
        "--download-timeout",
        metavar="S",
        help="seconds a mirror may stay silent before the next is tried (default: 30)",
    )
    add("--dataset", metavar="FILE.json", help="describe other data files and their sha256s (default: MNIST)")
    add("--compute-name", metavar="NAME", help="compute target (default: $AML_COMPUTE_CLUSTER_NAME or cpu-cluster)")
    add("--vm-size", metavar="SKU", help="VM size (default: $AML_COMPUTE_CLUSTER_SKU or STANDARD_D2_V2)")
    add("--min-nodes", metavar="N", help="nodes kept when idle (default: $AML_COMPUTE_CLUSTER_MIN_NODES or 0)")
    add(
        "--max-nodes",
        metavar="N",
        help="runs executing at once (default: $AML_COMPUTE_CLUSTER_MAX_NODES, else the CPU count locally, 4 on Azure)",
    )
    add("--vm-priority", metavar="PRIORITY", help="Azure ML: 'dedicated' (default) or 'lowpriority'")
    add(
        "--idle-seconds",
        dest="idle_seconds_before_scaledown",
        metavar="S",
        help="Azure ML: idle seconds before a node is released (default: 1800)",
    )
    add("--training-dir", metavar="DIR", help="source folder with train.py, run on the compute (default: training/)")
    add("--workspace-config", metavar="FILE", help="Azure ML config.json (default: ./config.json)")
    add("--credentials-block", metavar="NAME", help="Azure ML: a prefect-azure AzureMlCredentials block's name")
    add("--datastore", metavar="NAME", help="Azure ML datastore (default: the workspace's default datastore)")
    add("--refresh-cache", action="store_true", default=None, help="recompute every step instead of reusing results")
    add("--delete-compute", action="store_true", default=None, help="delete the compute target at the end")
    return parser


def read_dataset(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--dataset {path!r}: expected a readable JSON file describing the files ({exc})") from None


def flow_arguments(argv: list[str] | None) -> dict:
    """The validated flow arguments for the flags given; ConfigError if one is wrong."""
    given = {k: v for k, v in vars(build_parser().parse_args(argv)).items() if v is not None}
    if "dataset" in given:
        given["dataset"] = read_dataset(given["dataset"])
    return TrainingParameters.from_flow(given).flow_arguments(set(given))


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


def check_command_line(argv: list[str] | None = None) -> None:
    """Exit now on --help or bad input: the user should not wait for Prefect and MLflow to load for either.
    Runs before Prefect is imported, so it also sets the defaults Prefect reads when it loads its settings."""
    try:
        flow_arguments(argv)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    for name, value in TEMPORARY_SERVER_DEFAULTS.items():
        os.environ.setdefault(name, value)


def main(flow, argv: list[str] | None = None) -> int:
    try:
        arguments = flow_arguments(argv)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        state = flow(**arguments, return_state=True)
    except KeyboardInterrupt:
        stop_all_runs()  # already done if the flow was waiting for its runs; harmless twice
        print("interrupted: the training runs were stopped and marked KILLED", file=sys.stderr)
        return 130
    if state.is_completed():
        version = state.result()
        print(f"registered model {version.name} version {version.version}: accuracy {version.accuracy:.4f}")
        return 0
    error = state.result(raise_on_failure=False)
    print(f"error: {error if isinstance(error, FlowError) else state.message}", file=sys.stderr)
    return 2 if isinstance(error, ConfigError) else 1
