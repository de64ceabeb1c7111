"""`--plan` says what the run would do, and the run then does exactly that: in each situation a user meets, the
plan is made, then the same run is made, and every task run's state (Cached or Completed) is what the plan said
(cached or run). A plan does nothing: no file of the workspace is created or changed, no MLflow run is added."""

import statistics
from datetime import datetime

import pytest

from tests.flows.flow_runs import edit_train_script, flow_run_id, mlflow_runs
from tests.prefect_api import task_runs

PLANNED_AS = {"cached": "Cached", "run": "Completed"}


class Plan(dict[str, tuple[str, str]]):
    """step -> (plan, why), from the plan's table; and the plan's node-time line."""

    node_time: str


def planned(markdown: str) -> Plan:
    rows = [
        line.strip("|").split(" | ") for line in markdown.splitlines() if line.startswith("| ") and "---" not in line
    ]
    plan = Plan({step.strip(): (plan.strip(), why.strip()) for step, plan, why in rows[1:]})
    [plan.node_time] = [line for line in markdown.splitlines() if line.startswith("Node time: ")]
    return plan


def median_minutes(runs: list[dict]) -> float:
    """The median time on a node of the fake's Completed runs, from their run history times."""
    seconds = [
        (datetime.fromisoformat(run["endTimeUtc"]) - datetime.fromisoformat(run["startTimeUtc"])).total_seconds()
        for run in runs
        if run["status"] == "Completed"
    ]
    return statistics.median(seconds) / 60


def done(state) -> dict[str, str]:
    """task run name -> its final state, for the run just made."""
    assert state.is_completed(), state.message
    return {run.name: run.state_name for run in task_runs(flow_run_id(state))}


def files_of(workspace) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in workspace.rglob("*") if p.is_file()} if workspace.exists() else {}


def local_state(workspace) -> tuple:
    """What a plan must leave as it found it: the workspace's files, and its MLflow runs (if it has a store)."""
    runs = len(mlflow_runs(workspace)) if (workspace / "mlflow.db").is_file() else 0
    return files_of(workspace), runs


def plan_then_run(flow, workspace, untouched=None, **params) -> Plan:
    """The plan, then the run with the same parameters: each task run's state is what the plan said. `untouched`
    reads what the plan must not change (default: the local workspace's files and MLflow runs)."""
    untouched = untouched or (lambda: local_state(workspace))
    before = untouched()
    state = flow(plan=True, **params)
    assert state.is_completed(), state.message
    plan = planned(state.result())
    assert untouched() == before
    states = done(flow(**params))
    assert {step: PLANNED_AS[plan] for step, (plan, _) in plan.items()} == states, (plan, states)
    return plan


def test_what_the_plan_says_is_what_the_run_does(flow, tmp_path, training_copy):
    workspace = tmp_path / "ws"
    fresh = plan_then_run(flow, workspace)
    assert all(plan == "run" for plan, _ in fresh.values()) and not any("cached" in why for _, why in fresh.values())
    assert fresh["provision cpu-cluster"] == ("run", "creates it (0 to 2 nodes)")
    assert "no history yet in experiment `sklearn-mnist`" in fresh.node_time

    again = plan_then_run(flow, workspace)
    assert again["train reg-0.8"][0] == "cached" and again["register the best"][0] == "cached"
    assert again["provision cpu-cluster"] == ("run", "attaches the existing target (0 to 2 nodes)")
    assert again.node_time == "Node time: none (no training run would train)."

    added = plan_then_run(flow, workspace, regularization=[0.8, 0.4])
    assert added["train reg-0.8"][0] == "cached" and added["train reg-0.4"][0] == "run"
    assert added["train reg-0.4"][1].endswith("; no earlier finished run of reg-0.4: trains")
    # its input comes from the rate that trains (it named reg-0.8, which is cached, as the one that runs)
    assert added["register the best"] == ("run", "its input comes from train reg-0.4, which runs")
    assert "node-minutes for 1 training run(s)" in added.node_time and "of the 1 earlier finished" in added.node_time

    edit_train_script(training_copy, "    print('edited')\n")
    edited = plan_then_run(flow, workspace, training_dir=str(training_copy))
    assert edited["train reg-0.8"][0] == "run" and edited["train the baseline"][0] == "run"
    assert "training code changed since run" in edited["train reg-0.8"][1]
    assert "data changed" not in edited["train reg-0.8"][1]
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


def test_on_azure_ml_sdk_v1_the_plan_is_what_the_run_does_and_submits_nothing(azure_flow, fake_azure, tmp_path):
    workspace = tmp_path / "ws"
    untouched = lambda: (local_state(workspace), fake_azure.created_runs(), fake_azure.registry())  # noqa: E731
    fresh = plan_then_run(azure_flow, workspace, untouched)
    assert fresh["provision cpu-cluster"] == ("run", "creates it (STANDARD_D2_V2, 0 to 2 nodes, dedicated)")
    assert fresh["train reg-0.8"][0] == "run"
    again = plan_then_run(azure_flow, workspace, untouched)
    assert again["provision cpu-cluster"] == ("run", "attaches the existing target (0 to 2 nodes)")
    assert again["train reg-0.8"][0] == "cached" and again["register the best"][0] == "cached"
    assert "no history yet" in fresh.node_time and again.node_time.startswith("Node time: none")
    minutes = median_minutes(fake_azure.created_runs())  # the run history's start and end of the one run
    added = plan_then_run(azure_flow, workspace, untouched, regularization=[0.8, 0.4])
    assert added["train reg-0.4"][0] == "run" and added["train reg-0.4"][1].endswith(": trains")
    assert f"about {minutes:.1f} node-minutes for 1 training run(s), at the median {minutes:.1f} min" in added.node_time


@pytest.mark.azure_http
def test_on_azure_ml_sdk_v2_the_plan_is_what_the_run_does_and_writes_nothing(azure_v2_flow, fake_azure_v2, tmp_path):
    workspace = tmp_path / "ws"
    writes = lambda: [fake_azure_v2.count(method, "/") for method in ("PUT", "PATCH", "DELETE")]  # noqa: E731
    untouched = lambda: (local_state(workspace), writes())  # noqa: E731
    fresh = plan_then_run(azure_v2_flow, workspace, untouched)
    assert fresh["provision cpu-cluster"] == ("run", "creates it (STANDARD_D2_V2, 0 to 2 nodes, dedicated)")
    again = plan_then_run(azure_v2_flow, workspace, untouched)
    assert again["provision cpu-cluster"] == ("run", "attaches the existing target (0 to 2 nodes)")
    assert again["train reg-0.8"][0] == "cached" and again["register the best"][0] == "cached"
    added = plan_then_run(azure_v2_flow, workspace, untouched, regularization=[0.8, 0.4])
    assert added["train reg-0.4"][1].endswith("; no earlier finished run of reg-0.4: trains")
    assert "node-minutes for 1 training run(s)" in added.node_time and "of the 1 earlier finished" in added.node_time
