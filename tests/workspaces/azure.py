"""Both Azure adapters over their HTTP fakes, for a test that holds for either: the SDK v1 fake (azureml_v1/) and the
SDK v2 fake (azureml_v2/), each opened as the contract suite opens it, with what a test asks of the service."""

import importlib

from tests.workspaces.azureml_v1.fake_runner import read_json

CANCELLING = ("CancelRequested", "Canceled")


class Azure:
    """What a test asks of either SDK's fake: a workspace opened on it, a run's status there, its cancels."""

    def __init__(self, backend: str, request, tmp_path):
        self.v1, self.request, self.tmp_path = backend == "azureml", request, tmp_path
        self.fake = request.getfixturevalue("fake_azure" if self.v1 else "fake_azure_v2")

    def opened(self):
        folder = "azureml_v1" if self.v1 else "azureml_v2"
        return importlib.import_module(f"tests.workspaces.{folder}.contract").opened(self.request, self.tmp_path)

    def status(self, run_id: str) -> str:
        """Its status on the fake; "" while the fake has not written its record yet."""
        record = self.fake.run_record(run_id) if self.v1 else read_json(self.fake.root / "runs" / run_id / "run.json")
        return (record or {}).get("status", "")

    def runs(self) -> list[str]:
        """The ids of the runs created on the fake."""
        if self.v1:
            return [run["id"] for run in self.fake.created_runs()]
        return sorted(self.fake.state["jobs"])

    def cancels(self, run_id: str) -> int:
        return self.fake.count("POST", f"/runId/{run_id}/cancel" if self.v1 else f"/jobs/{run_id}/cancel")

    def fail_following(self, times: int) -> None:
        """The run history and the job's own answers 503 for a while: an outage while a run is followed."""
        for method, part in (("POST", "/runs:query"), ("GET", "/details")):
            self.fake.fail(method, part, 503, "ServiceUnavailable", "down for maintenance", times=times)
