"""`python flows/main.py` as a user runs it: exit statuses, one-line errors (stopping it: test_stopping.py).

The bad-input table is checked in-process (the parser and messages are the same code, without a Python start
per case); a few cases run as real processes, as a user types them, to show the wiring holds end to end.
"""

import concurrent.futures
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flows.cli import check_command_line, settle
from tests.conftest import PROJECT
from tests.flows.flow_runs import MAIN, flow_command

NOT_FOUND = "[Errno 2] No such file or directory: 'missing.json'"
BAD_INPUT = [
    (["--regularization", "-0.5"], {}, "regularization rate '-0.5': expected a positive finite number, such as 0.8"),
    (["--regularization", "lots"], {}, "regularization rate 'lots': expected a positive finite number, such as 0.8"),
    (["--backend", "azure"], {}, "unknown backend 'azure'; expected 'local', 'azureml' or 'azureml-v2'"),
    (["--max-nodes", "0"], {}, "max_nodes 0: expected at least 1 node"),
    (["--max-run-minutes", "0"], {}, "max_run_minutes 0: expected 1 to 43200 (30 days), such as 180"),
    (["--min-nodes", "3", "--max-nodes", "2"], {}, "max_nodes 2 is below min_nodes 3; expected max_nodes >= min_nodes"),
    ([], {"AML_COMPUTE_CLUSTER_MAX_NODES": "four"}, "AML_COMPUTE_CLUSTER_MAX_NODES='four': expected a whole number"),
    (
        ["--mirror", "ftp://example.org/"],
        {},
        "mirror 'ftp://example.org/': expected an http://, https:// or file:// URL, or an existing folder",
    ),
    (
        [],
        {"MNIST_MIRROR": "no-such-folder"},
        "mirror 'no-such-folder': expected an http://, https:// or file:// URL, or an existing folder",
    ),
    (
        ["--workspace-dir", "afile/ws"],
        {},
        "workspace folder 'afile/ws' cannot be created: {cwd}/afile is a file, not a folder; "
        "choose another --workspace-dir",
    ),
    (
        ["--dataset", "missing.json"],
        {},
        f"--dataset 'missing.json': expected a readable JSON file describing the files ({NOT_FOUND})",
    ),
    (
        [],
        {"MNIST_FLOW_WORKSPACE": "afile/ws"},
        "workspace folder 'afile/ws' cannot be created: {cwd}/afile is a file, not a folder; "
        "choose another --workspace-dir",
    ),
    (["--download-timeout", "0"], {}, "download timeout '0': expected a positive number of seconds, such as 30"),
    (
        ["--experiment-name", "my experiment"],
        {},
        "experiment name 'my experiment': expected letters, digits, '-' or '_' (at most 255), "
        "starting with a letter or digit",
    ),
    (
        ["--compute-name", "x"],
        {},
        "compute name 'x': expected 2 to 16 letters, digits or '-', starting with a letter (Azure ML's rule)",
    ),
    (["--vm-priority", "spot"], {}, "vm_priority 'spot': expected 'dedicated' or 'lowpriority'"),
    (
        [],
        {"MNIST_FLOW_RUN_PROCESS": "spawn"},
        "MNIST_FLOW_RUN_PROCESS 'spawn': expected 'fork' (the default) or 'exec'",
    ),
    (
        [],
        {"MNIST_FLOW_RETRY_BACKOFF": "soon"},
        "MNIST_FLOW_RETRY_BACKOFF='soon': expected the seconds before a step's first retry, 0 to 3600 (default 2)",
    ),
    (
        ["--backend", "azureml"],
        {"MNIST_FLOW_FOLLOW_PATIENCE": "0"},
        "MNIST_FLOW_FOLLOW_PATIENCE='0': expected the minutes following an Azure ML run keeps trying while the "
        "service does not answer, more than 0 and at most 1440 (default 30)",
    ),
    (["--training-dir", "."], {}, "training folder '.' has no train.py; expected the tutorial's entry script"),
    (
        ["--mirror", "https://me:secret@example.org/"],
        {},
        "a mirror URL must not carry a password (it would be logged and stored as a parameter)",
    ),
    (
        ["--backend", "azureml"],
        {},
        "Azure ML workspace config 'config.json' not found; download config.json from the workspace's page in the "
        "Azure portal and pass it with --workspace-config",
    ),
    (
        ["--backend", "azureml"],
        {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"},
        "a service principal needs AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; AZURE_CLIENT_SECRET not set",
    ),
    (
        ["--backend", "azureml-v2"],
        {},
        "Azure ML workspace config 'config.json' not found; download config.json from the workspace's page in the "
        "Azure portal and pass it with --workspace-config",
    ),
    (
        ["--backend", "azureml-v2"],
        {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"},
        "a service principal needs AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; AZURE_CLIENT_SECRET not set",
    ),
    (
        ["--backend", "azureml", "--credentials-block", "My Block"],
        {},
        "credentials block 'My Block': expected a Prefect block name (lowercase letters, digits and '-')",
    ),
]


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("args, env, message", BAD_INPUT)
def test_bad_input_is_one_line_and_exit_status_2_with_nothing_written(
    tmp_path, monkeypatch, capsys, args, env, message
):
    (tmp_path / "afile").write_text("")
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_status:
        check_command_line(args)
    assert exit_status.value.code == 2
    assert capsys.readouterr().err.splitlines() == ["error: " + message.format(cwd=tmp_path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no .workspace, nothing downloaded


def test_as_a_process_bad_input_is_one_line_and_exit_status_2(tmp_path):
    result = cli("--regularization", "-0.5", "--max-nodes", "2", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: regularization rate '-0.5': expected a positive finite number, such as 0.8\n"
    assert list(tmp_path.iterdir()) == []


def test_help_documents_every_parameter(tmp_path):
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for flag in (
        "--regularization",
        "--experiment-name",
        "--backend",
        "--workspace-dir",
        "--mirror",
        "--max-nodes",
        "--min-nodes",
        "--vm-size",
        "--compute-name",
        "--refresh-cache",
        "--delete-compute",
        "--workspace-config",
        "--credentials-block",
        "--training-dir",
        "--dataset",
    ):
        assert flag in result.stdout


@pytest.mark.parametrize("given, expected", [(None, "120"), ("33", "33")])
def test_the_temporary_prefect_server_gets_time_to_start_unless_the_user_chose(tmp_path, given, expected):
    """Prefect's 20 s made a first `make run` fail on a busy 2-core machine; the command line waits longer."""
    show = (
        "import sys; from flows.cli import check_command_line; check_command_line([]); "
        "from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as timeout; "
        "print(timeout.value())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"}
    if given:
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = given
    result = subprocess.run(
        [sys.executable, "-c", show], capture_output=True, text=True, cwd=PROJECT, env=env, timeout=120
    )
    assert result.stdout.strip() == expected, result.stderr


def test_a_successful_run_prints_no_error_cold_or_warm(processes, mirror, tiny_data, tmp_path):
    """As `make run` on a new machine: a fresh HOME, no Prefect settings, so the command line starts Prefect's
    temporary server itself. A run that succeeded prints no ERROR line and no traceback (Prefect's telemetry
    printed one of two on every such run: it is turned off for the temporary server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MNIST_", "AML_"))}
    env["HOME"] = str(tmp_path / "home")
    command = flow_command(tmp_path, mirror.url, tiny_data[1])
    for attempt in ("cold", "warm"):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        assert "registered model sklearn_mnist version 1" in output
        assert [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line] == [], attempt


def test_the_last_line_waits_for_the_flows_threads_but_not_for_an_open_pools_idle_workers(monkeypatch):
    """A cold run printed its last line a minute after its flow ended: `settle` joined the idle workers of a
    pool MLflow keeps open, which end only when Python exits. It still waits for a thread at work and for a pool
    that was shut down (the workspace's store opener)."""
    joined = []
    monkeypatch.setattr(threading.Thread, "join", lambda thread, timeout=None: joined.append(thread.name))
    release = threading.Event()
    open_pool = concurrent.futures.ThreadPoolExecutor(1, "still-open")
    open_pool.submit(lambda: None).result()  # its worker is idle now, and stays
    closing = concurrent.futures.ThreadPoolExecutor(1, "shut-down")
    closing.submit(release.wait)
    closing.shutdown(wait=False)
    working = threading.Thread(target=release.wait, name="at-work")
    working.start()
    try:
        settle(seconds=60)
    finally:
        release.set()
        monkeypatch.undo()
        working.join()
        open_pool.shutdown()
    assert "at-work" in joined and "shut-down_0" in joined
    assert "still-open_0" not in joined
