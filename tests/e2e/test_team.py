"""Workers anywhere: with the Prefect variable `mnist_flow_repository` set, a deployment run clones the project
with Prefect's `git_clone` (the pull step in prefect.yaml) and runs that code, from a worker started in an empty
folder. The repository is a bare one made from the project in a temporary folder (a file:// URL), and its
branch carries a marked train.py, so the run's log shows which code ran."""

import shutil
import subprocess
import time

import pytest

from tests import prefect_api
from tests.conftest import PROJECT
from tests.e2e.conftest import latest_flow_run, on
from tests.flows.flow_runs import edit_train_script

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("prefect-stack")]
MARK = "trained from the team repository's clone"


def git(*args: str, cwd) -> str:
    identity = ["-c", "user.name=mnist-flow tests", "-c", "user.email=tests@localhost", "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def team_repository(folder) -> str:
    """A bare repository holding the project's files as they are here (committed or not), with a branch `team`
    whose train.py prints MARK: its file:// URL."""
    work = folder / "work"
    for name in git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=PROJECT).split("\0"):
        if name and (PROJECT / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, work / name)
    git("init", "-q", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "the project", cwd=work)
    git("checkout", "-q", "-b", "team", cwd=work)
    edit_train_script(work / "training", f"    print({MARK!r})\n")
    git("commit", "-q", "-am", "a marked train.py", cwd=work)
    git("clone", "-q", "--bare", str(work), str(folder / "project.git"), cwd=folder)
    return (folder / "project.git").as_uri()


def test_a_worker_in_an_empty_folder_clones_the_branch_and_runs_it(prefect_stack, tiny_run_parameters, tmp_path):
    url = team_repository(tmp_path)
    for name, value in (("mnist_flow_repository", url), ("mnist_flow_branch", "team")):
        assert prefect_stack.prefect("variable", "set", name, value, "--overwrite").returncode == 0
    try:
        params = {**tiny_run_parameters, "workspace_dir": str(tmp_path / "team-ws"), "regularization": [0.8]}
        started = time.monotonic()
        result = prefect_stack.run_deployment_and_watch("mnist-training/local", params)
        seconds = time.monotonic() - started
    finally:
        for name in ("mnist_flow_repository", "mnist_flow_branch"):
            assert prefect_stack.prefect("--no-prompt", "variable", "unset", name).returncode == 0
    assert result.returncode == 0, result.stdout[-3000:] + (prefect_stack.logs / "worker.log").read_text()[-3000:]
    run = latest_flow_run(prefect_stack)
    records = on(prefect_stack, prefect_api.log_records, run.id, expect=f"[reg-0.8] {MARK}")
    assert any(record.message == f"[reg-0.8] {MARK}" for record in records)
    assert not any((prefect_stack.logs / "worker-folder").iterdir())  # each run cloned into its own folder
    [pulling] = [i for i, record in enumerate(records) if "deployment pull step" in record.message]
    pull = (records[pulling + 1].timestamp - records[pulling].timestamp).total_seconds()
    print(f"\na deployment run that cloned the project, on tiny data: {seconds:.1f} s; its pull step {pull:.1f} s")


def test_without_a_repository_a_run_works_in_the_folder_deploy_ran_in(prefect_stack, completed_runs):
    """The fallback for one machine: no variable set, a worker in an empty folder (where flows/main.py is not),
    and the runs completed with the project's own train.py."""
    lines = on(prefect_stack, prefect_api.log_lines, completed_runs[0].id)
    assert not any(MARK in line for line in lines)
    assert completed_runs[0].state_name == "Completed"
