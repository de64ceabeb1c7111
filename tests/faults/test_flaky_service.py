"""Whole flows on a flaky Azure ML: every request of the real SDK (management, run history, execution, MLflow,
blobs) gets, with probability p, a 429 with Retry-After, a 500, a 503, a reset before it arrives, or its answer
lost after the service acted (tests/workspaces/faults.py, seeded: a failing seed replays). Expected of each
flow: it completes with its model registered, one job per rate, nothing cancelled, nothing submitted twice; or
it fails with one line that names the fault, and no model version is half-registered.

The suite runs one seed of one rate per backend (SDK v1 at 10%, SDK v2 at 20%: each flow costs a minute);
MNIST_FLOW_SEEDS="1 2 3 ..." runs those seeds at both rates on both backends."""

import os

import pytest

RATES = [0.8, 0.4]
SEEDS = [int(s) for s in os.environ.get("MNIST_FLOW_SEEDS", "").split()]
V1_CASES = [(rate, seed) for rate in (0.1, 0.2) for seed in SEEDS] or [(0.1, 1)]
V2_CASES = [(rate, seed) for rate in (0.1, 0.2) for seed in SEEDS] or [(0.2, 1)]


def outcome(state, jobs: list[dict], cancels: int, models: int) -> str:
    """What a user of the flow would notice, or "" when it is all as expected."""
    rates = sorted(job["run_name"] for job in jobs)
    if state.is_completed():
        if rates != sorted(f"reg-{r}" for r in RATES):
            return f"jobs {rates}: a rate trained twice or not at all"
        if cancels:
            return f"{cancels} cancel request(s) for healthy jobs"
        if models != 1:
            return f"{models} model versions registered"
        return ""
    message = str(state.message or "")
    if "\n" in message.strip() or not message:
        return f"failed without a one-line reason: {message!r}"
    if models:
        return f"failed after registering {models} model version(s): {message}"
    return ""


@pytest.mark.parametrize(("rate", "seed"), V2_CASES)
def test_a_flow_on_a_flaky_sdk_v2_service(azure_v2_flow, fake_azure_v2, rate, seed):
    fake_azure_v2.faults.at_random(rate, seed)
    state = azure_v2_flow(regularization=RATES)
    fake_azure_v2.faults.stop_random()
    jobs = [{"run_name": j["properties"]["tags"]["run_name"]} for j in fake_azure_v2.state["jobs"].values()]
    models = len([k for k in fake_azure_v2.state["models"] if "/" in k])
    cancels = fake_azure_v2.count("POST", "/cancel")
    assert fake_azure_v2.faults.injected, "no fault was injected: the rate or the seed is wrong"
    assert outcome(state, jobs, cancels, models) == "", fake_azure_v2.faults.injected
    assert state.is_completed(), f"seed {seed} at p={rate}: {state.message}"


@pytest.mark.parametrize(("rate", "seed"), V1_CASES)
def test_a_flow_on_a_flaky_sdk_v1_service(azure_flow, fake_azure, rate, seed):
    fake_azure.faults.at_random(rate, seed)
    state = azure_flow(regularization=RATES)
    fake_azure.faults.stop_random()
    jobs = [{"run_name": run["tags"].get("run_name", "")} for run in fake_azure.created_runs()]
    cancels = fake_azure.count("POST", "/cancel")
    models = len(fake_azure.registry())
    assert fake_azure.faults.injected, "no fault was injected: the rate or the seed is wrong"
    assert outcome(state, jobs, cancels, models) == "", fake_azure.faults.injected
    assert state.is_completed(), f"seed {seed} at p={rate}: {state.message}"
