"""`--plan` says what the run would do, and the run then does exactly that: in each situation a user meets, the
plan is made, then the same run is made, and every task run's state (Cached or Completed) is what the plan said
(cached or run). A plan does nothing: no file of the workspace is created or changed, no MLflow run is added."""

from tests.flows.flow_runs import edit_train_script, flow_run_id, mlflow_runs
from tests.prefect_api import task_runs

PLANNED_AS = {"cached": "Cached", "run": "Completed"}


def planned(markdown: str) -> dict[str, tuple[str, str]]:
    """step -> (plan, why), from the plan's table."""
    rows = [
        line.strip("|").split(" | ") for line in markdown.splitlines() if line.startswith("| ") and "---" not in line
    ]
    return {step.strip(): (plan.strip(), why.strip()) for step, plan, why in rows[1:]}


def done(state) -> dict[str, str]:
    """task run name -> its final state, for the run just made."""
    assert state.is_completed(), state.message
    return {run.name: run.state_name for run in task_runs(flow_run_id(state))}


def files_of(workspace) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in workspace.rglob("*") if p.is_file()} if workspace.exists() else {}


def plan_then_run(flow, workspace, **params) -> dict[str, tuple[str, str]]:
    before, runs_before = files_of(workspace), len(mlflow_runs(workspace)) if workspace.exists() else 0
    state = flow(plan=True, **params)
    assert state.is_completed(), state.message
    plan = planned(state.result())
    assert files_of(workspace) == before and (len(mlflow_runs(workspace)) if workspace.exists() else 0) == runs_before
    states = done(flow(**params))
    assert {step: PLANNED_AS[plan] for step, (plan, _) in plan.items()} == states, (plan, states)
    return plan


def test_what_the_plan_says_is_what_the_run_does(flow, tmp_path, training_copy):
    workspace = tmp_path / "ws"
    fresh = plan_then_run(flow, workspace)
    assert all(plan == "run" for plan, _ in fresh.values()) and not any("cached" in why for _, why in fresh.values())
    assert fresh["provision cpu-cluster"] == ("run", "creates it")

    again = plan_then_run(flow, workspace)
    assert again["train reg-0.8"][0] == "cached" and again["register the best"][0] == "cached"
    assert again["provision cpu-cluster"] == ("run", "attaches the existing target")

    added = plan_then_run(flow, workspace, regularization=[0.8, 0.4])
    assert added["train reg-0.8"][0] == "cached" and added["train reg-0.4"][0] == "run"
    assert added["train reg-0.4"][1].endswith(": trains") and added["register the best"][0] == "run"

    edit_train_script(training_copy, "    print('edited')\n")
    edited = plan_then_run(flow, workspace, training_dir=str(training_copy))
    assert edited["train reg-0.8"][0] == "run" and edited["train the baseline"][0] == "run"
    assert edited["download tiny-mnist"][0] == "cached"

    (workspace / "datastore" / "mnist" / "test-labels.gz").unlink()
    deleted = plan_then_run(flow, workspace, training_dir=str(training_copy))
    assert deleted["upload to mnist"] == ("run", "cached result no longer holds (its files are gone); recomputing")
    assert deleted["train reg-0.8"][0] == "cached"  # the same data uploaded again: the same key

    refreshed = plan_then_run(flow, workspace, training_dir=str(training_copy), refresh_cache=True)
    assert all(plan == "run" for plan, _ in refreshed.values())
    assert refreshed["download tiny-mnist"] == ("run", "recomputed (refresh_cache)")


def test_a_plan_of_a_fresh_workspace_creates_nothing(flow, tmp_path):
    state = flow(plan=True)
    assert state.is_completed(), state.message
    assert state.result().startswith("# Plan: 10 of 10 steps would run") and not (tmp_path / "ws").exists()


def test_a_plan_for_azure_says_it_is_not_there_yet(capsys):
    from flows.cli import main
    from flows.main import mnist_training

    assert main(mnist_training, ["--plan", "--backend", "azureml"]) == 2
    assert capsys.readouterr().err.strip() == "error: --plan covers the local workspace so far, not --backend azureml"
