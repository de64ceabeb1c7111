"""`python flows/main.py` as a user runs it: exit statuses, one-line errors, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.flows.flow_runs import edit_train_script, mlflow_runs, training_processes

MAIN = PROJECT / "flows" / "main.py"
# A command started in the background by a non-interactive shell (as this suite may be) ignores SIGINT, and
# so would the flow; at a terminal, Ctrl-C's SIGINT is not ignored. This restores that before exec.
AT_A_TERMINAL = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                 "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"]  # fmt: skip


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAIN), *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **env})  # fmt: skip


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--regularization", "-0.5"], {}, "regularization rate '-0.5': expected a positive finite number, such as 0.8"),
        (["--regularization", "lots"], {}, "regularization rate 'lots': expected a positive finite number, such as 0.8"),
        (["--backend", "azure"], {}, "unknown backend 'azure'; expected 'local' or 'azureml'"),
        (["--max-nodes", "0"], {}, "max_nodes 0: expected at least 1 node"),
        (["--min-nodes", "3", "--max-nodes", "2"], {}, "max_nodes 2 is below min_nodes 3; expected max_nodes >= min_nodes"),
        ([], {"AML_COMPUTE_CLUSTER_MAX_NODES": "four"}, "AML_COMPUTE_CLUSTER_MAX_NODES='four': expected a whole number"),
        (["--mirror", "ftp://example.org/"], {}, "mirror 'ftp://example.org/': expected an http://, https:// or file:// URL, or an existing folder"),
        ([], {"MNIST_MIRROR": "no-such-folder"}, "mirror 'no-such-folder': expected an http://, https:// or file:// URL, or an existing folder"),
        (["--workspace-dir", "afile/ws"], {}, "workspace folder 'afile/ws' cannot be created: {cwd}/afile is a file, not a folder; choose another --workspace-dir"),
        (["--dataset", "missing.json"], {}, "--dataset 'missing.json': expected a readable JSON file describing the files ([Errno 2] No such file or directory: 'missing.json')"),
        ([], {"MNIST_FLOW_WORKSPACE": "afile/ws"}, "workspace folder 'afile/ws' cannot be created: {cwd}/afile is a file, not a folder; choose another --workspace-dir"),
        (["--download-timeout", "0"], {}, "download timeout '0': expected a positive number of seconds, such as 30"),
        (["--experiment-name", "my experiment"], {}, "experiment name 'my experiment': expected letters, digits, '-' or '_' (at most 255), starting with a letter or digit"),
        (["--compute-name", "x"], {}, "compute name 'x': expected 2 to 16 letters, digits or '-', starting with a letter (Azure ML's rule)"),
        (["--vm-priority", "spot"], {}, "vm_priority 'spot': expected 'dedicated' or 'lowpriority'"),
        (["--training-dir", "."], {}, "training folder '.' has no train.py; expected the tutorial's entry script"),
        (["--mirror", "https://me:secret@example.org/"], {}, "a mirror URL must not carry a password (it would be logged and stored as a parameter)"),
        (["--backend", "azureml"], {}, "Azure ML workspace config 'config.json' not found; download config.json from the workspace's page in the Azure portal and pass it with --workspace-config"),
        (["--backend", "azureml"], {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}, "a service principal needs AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; AZURE_CLIENT_SECRET not set"),
        (["--backend", "azureml", "--credentials-block", "My Block"], {}, "credentials block 'My Block': expected a Prefect block name (lowercase letters, digits and '-')"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_status_2_with_nothing_written(tmp_path, args, env, message):
    (tmp_path / "afile").write_text("")
    result = cli(*args, cwd=tmp_path, **env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: " + message.format(cwd=tmp_path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no .workspace, nothing downloaded


def test_help_documents_every_parameter(tmp_path):
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for flag in ("--regularization", "--experiment-name", "--backend", "--workspace-dir", "--mirror", "--max-nodes",
                 "--min-nodes", "--vm-size", "--compute-name", "--refresh-cache", "--delete-compute",
                 "--workspace-config", "--credentials-block", "--training-dir", "--dataset"):  # fmt: skip
        assert flag in result.stdout


@pytest.mark.parametrize("given, expected", [(None, "120"), ("33", "33")])
def test_the_temporary_prefect_server_gets_time_to_start_unless_the_user_chose(tmp_path, given, expected):
    """Prefect's 20 s made a first `make run` fail on a busy 2-core machine; the command line waits longer."""
    show = ("import sys; from flows.cli import check_command_line; check_command_line([]); "
            "from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as timeout; "
            "print(timeout.value())")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"}
    if given:
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = given
    result = subprocess.run([sys.executable, "-c", show], capture_output=True, text=True, cwd=PROJECT, env=env,
                            timeout=120)  # fmt: skip
    assert result.stdout.strip() == expected, result.stderr


def test_ctrl_c_stops_every_training_run_and_marks_it_killed(subprocess_env, mirror, tiny_data, training_copy, tmp_path):
    edit_train_script(training_copy, "    print('fitting slowly', flush=True)\n    import time; time.sleep(300)\n")
    (tmp_path / "dataset.json").write_text(json.dumps(tiny_data[1]))
    workspace = tmp_path / "ws"
    flow = subprocess.Popen(
        [*AT_A_TERMINAL, str(MAIN), "--workspace-dir", str(workspace), "--mirror", mirror.url, "--dataset",
         str(tmp_path / "dataset.json"), "--training-dir", str(training_copy), "--regularization", "0.8",
         "--regularization", "0.4", "--max-nodes", "2"],
        env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(flow.stdout), daemon=True).start()
    deadline = time.monotonic() + 120
    while sum("fitting slowly" in line for line in output) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(training_processes(str(workspace / "datastore"))) == 2, "".join(output)
    flow.send_signal(signal.SIGINT)
    try:
        assert flow.wait(timeout=90) == 130, "".join(output)
    finally:
        flow.kill()
    time.sleep(0.5)
    assert training_processes(str(workspace / "datastore")) == []
    assert [r.info.status for r in mlflow_runs(workspace)] == ["KILLED", "KILLED"]
    assert any("interrupted: the training runs were stopped and marked KILLED" in line for line in output)
