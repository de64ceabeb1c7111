"""Two flows started at the same moment on one workspace: both complete, each shared step is done once."""

import json
import subprocess
import sys

from tests.flows.flow_runs import mlflow_runs, model_versions
from tests.flows.test_cli import MAIN


def test_two_flows_at_once_compute_each_step_once(subprocess_env, mirror, tiny_data, tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps(tiny_data[1]))
    command = [sys.executable, str(MAIN), "--workspace-dir", str(tmp_path / "ws"), "--mirror", mirror.url,
               "--dataset", str(tmp_path / "dataset.json"), "--max-nodes", "2"]  # fmt: skip
    flows = [subprocess.Popen(command, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]  # fmt: skip
    outputs = [flow.communicate(timeout=300)[0] for flow in flows]
    assert [flow.returncode for flow in flows] == [0, 0], outputs
    assert sorted(mirror.requests) == sorted(f["source"] for f in tiny_data[1]["files"])  # each file fetched once
    assert len(mlflow_runs(tmp_path / "ws")) == 1  # one training run, the other flow used its result
    assert [str(v.version) for v in model_versions(tmp_path / "ws")] == ["1"]
    assert sum(out.count("Finished in state Cached") for out in outputs) == 6  # each cached step: once computed, once reused
    assert not list((tmp_path / "ws").rglob("*.part"))
