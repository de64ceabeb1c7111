"""Registering a run once, across machines: the registry lock is one machine's file (tasks/register.py), so two
flows on two machines may register the same run at the same moment. On both SDKs' adapters over their fakes,
both flows succeed and the run has exactly one version: SDK v2 made two (it reads the registry's next version,
then PUTs it), SDK v1's clean-up of a duplicate failed the second flow on the first one's delete (a 404)."""

import threading

import pytest

from steps.registry import register
from tests.idx_files import write_tiny_datastore_files
from tests.workspaces.jobs import a_job_on
from workspaces.base import ComputeSpec

pytestmark = pytest.mark.azure_http


def versions_of(workspace, run_id: str) -> list[str]:
    return [v.version for v in workspace.model_versions("sklearn_mnist") if v.run_id == run_id]


def test_two_machines_registering_one_run_at_once_leave_one_version_and_both_succeed(azure, training_copy, tmp_path):
    first = azure.opened()
    data = first.upload(write_tiny_datastore_files(tmp_path / "data"), "mnist")
    compute = first.provision_compute(ComputeSpec(name="cpu-cluster"))
    result = first.stream_logs(first.submit(a_job_on(data, training_copy, compute.name), compute), lambda line: None)
    machines = [azure.opened(), azure.opened()]  # two adapters: nothing shared but the service
    both_looked = threading.Barrier(2, timeout=60)
    for machine in machines:  # each looks, finds none, and only then registers: the race, every time
        find = machine.find_model_version

        def found_none_yet(name, run_id, find=find):
            found = find(name, run_id)
            both_looked.wait()
            return found

        machine.find_model_version = found_none_yet
    answers: list = [None, None]

    def registers(n: int) -> None:
        answers[n] = register(machines[n], result, "sklearn_mnist", {"accuracy": repr(result.accuracy)})

    threads = [threading.Thread(target=registers, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(answer, type(answers[0])) and answer is not None for answer in answers), answers
    assert answers[0].version == answers[1].version
    assert versions_of(first, result.run_id) == [answers[0].version]
    champion = first.champion("sklearn_mnist")
    assert champion is not None and champion.version == answers[0].version
