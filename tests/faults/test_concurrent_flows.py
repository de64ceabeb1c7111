"""Two flows started at the same moment on one workspace: both complete, each shared step is done once."""

import subprocess

from tests.flows.flow_runs import flow_command, mlflow_runs, model_versions


def test_two_flows_at_once_compute_each_step_once(subprocess_env, mirror, tiny_data, tmp_path):
    command = flow_command(tmp_path, mirror.url, tiny_data[1])
    flows = [
        subprocess.Popen(command, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [flow.communicate(timeout=300)[0] for flow in flows]
    assert [flow.returncode for flow in flows] == [0, 0], outputs
    assert sorted(mirror.requests) == sorted(f["source"] for f in tiny_data[1]["files"])  # each file fetched once
    assert len(mlflow_runs(tmp_path / "ws")) == 1  # one training run, the other flow used its result
    assert [str(v.version) for v in model_versions(tmp_path / "ws")] == ["1"]
    assert (
        sum(out.count("Finished in state Cached") for out in outputs) == 6
    )  # each cached step: once computed, once reused
    assert not list((tmp_path / "ws").rglob("*.part"))
