"""Every failure a person meets at the terminal is one `error:` line, never a traceback: the commands as a user
runs them, one case per row of docs/troubleshooting.md's table "Failures at run time". The traceback is not lost:
it is in the log file the line names (and in the flow run's log on the Prefect server)."""

import re
import shutil
import socket
import subprocess
import sys

import pytest

from tests.conftest import PROJECT
from tests.flows.flow_runs import flow_command

LOG_FILE = re.compile(r"\(the whole log, tracebacks included: (\S+\.log)\)$")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=PROJECT)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-4000:]
    return result.returncode, [line for line in output.splitlines() if line.strip()]


def logged(last: str) -> str:
    """The log file the last line names: it holds what the terminal did not show."""
    found = LOG_FILE.search(last)
    assert found, last
    return open(found[1]).read()


@pytest.fixture
def env(subprocess_env, tmp_path):
    return {**subprocess_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_no_mirror_answering_is_one_line(env, tiny_data, tmp_path):
    """`make run` with no internet: two Prefect tracebacks (about 55 lines) came before the error line."""
    offline = f"http://127.0.0.1:{closed_port()}/"
    status, lines = run(flow_command(tmp_path, offline, tiny_data[1]), env)
    assert status == 1
    assert lines[-1].startswith("error: no mirror served a valid train-images-idx3-ubyte.gz (sha256 ")
    assert "unreachable" in lines[-1] and "its step was retried and gave up" in lines[-1]
    assert "Traceback" in logged(lines[-1])


def test_a_mirror_with_an_empty_file_is_one_line_that_says_empty(env, tiny_data, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(tiny_data[0], mirror)
    next(mirror.glob("train-images*")).write_bytes(b"")
    status, lines = run(flow_command(tmp_path, str(mirror), tiny_data[1]), env)
    assert status == 1
    assert lines[-1].startswith("error: no mirror served a valid train-images-idx3-ubyte.gz")
    assert ": an empty file (0 bytes); check the mirrors (--mirror, MNIST_MIRROR)" in lines[-1]


def test_a_prefect_server_that_is_not_there_is_one_line(env, mirror, tiny_data, tmp_path):
    """PREFECT_API_URL naming nothing: 110 lines, three tracebacks, and a RuntimeError for a last line."""
    nowhere = f"http://127.0.0.1:{closed_port()}/api"
    status, lines = run(flow_command(tmp_path, mirror.url, tiny_data[1]), {**env, "PREFECT_API_URL": nowhere})
    assert status == 1
    assert lines[-1].startswith(f"error: the Prefect server at PREFECT_API_URL={nowhere} does not answer (")
    assert "start it (prefect server start), or unset PREFECT_API_URL" in lines[-1]


def score(workspace, *flags: str) -> list[str]:
    return [sys.executable, str(PROJECT / "flows" / "score.py"), "--workspace-dir", str(workspace), *flags]


def test_scoring_with_an_alias_that_is_not_there_is_one_line(env, trained_workspace):
    """The right message and exit 2, after 71 lines and two tracebacks."""
    status, lines = run(score(trained_workspace, "--model", "staging"), env)
    assert status == 2
    assert lines[-1] == "error: sklearn_mnist has no alias 'staging'; the registry holds versions 1 (champion -> 1)"


def test_scoring_a_folder_with_a_loose_file_beside_the_labels_names_the_file(env, trained_workspace, tmp_path):
    digits = tmp_path / "digits"
    (digits / "7").mkdir(parents=True)
    (digits / "notes.txt").write_text("mine")
    status, lines = run(score(trained_workspace, "--images", str(digits)), env)
    assert status == 2
    assert lines[-1] == (
        f"error: {digits}: expected PNG files, or only sub-folders named 0 to 9 holding them; notes.txt is "
        "neither: move it out, or label every image by its sub-folder"
    )


def test_scoring_a_registry_that_cannot_be_read_is_one_line(env, trained_workspace, tmp_path):
    """A registry MLflow cannot open (here its database is not a database; read-only, for a user, failed the same
    way: 131 lines and four tracebacks, even with --output-dir elsewhere). One line, and the traceback in the log."""
    (trained_workspace / "mlflow.db").write_bytes(b"not a database" * 100)
    status, lines = run(score(trained_workspace, "--output-dir", str(tmp_path / "out")), env)
    assert status == 1 and lines[-1].startswith("error: ")
    assert "Traceback" in logged(lines[-1])
