"""The data-plane calls SDK v2 does not offer, made on the same credential and transport as its own:

- a run's details (status, error, and its log files' URLs) from the run-history API, the answer the SDK's own
  `jobs.stream` polls (azure/ai/ml/operations/_job_ops_helper.py: `run_operations.get_run_details`); the SDK's
  stream writes to `sys.stdout` and blocks, and redirecting stdout is process-wide, so parallel runs' lines
  would mix: each run's log is read here and handed to its own sink (workspaces/azureml_common/runs.py);
- the statuses of all the runs a flow follows, in one run-history query (azureml_common/polling.py says why);
- a run's metrics from MLflow's REST API on the workspace's tracking server (SDK v2 has none of its own:
  Azure ML's documented way is MLflow, and a v2 job's name is its MLflow run id). This avoids installing
  azureml-mlflow here: its releases after 1.60.0 cap mlflow-skinny below this project's MLflow (1.62.0.post6:
  <=3.15.0), and 1.60.0 is untested by Microsoft beside MLflow 3.17. Its plugin's work here is only to add a
  token to the request, which the pipeline below does.

Both hosts come from the job itself: its `Tracking` service endpoint,
`azureml://<region>.api.azureml.ms/mlflow/v1.0/subscriptions/.../workspaces/<name>`.
"""

import json
from typing import Any
from urllib.parse import quote, urlparse

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest

SCOPE = "https://ml.azure.com/.default"  # Azure ML's data plane


class DataPlane:
    def __init__(self, credential: TokenCredential, transport: Any = None):
        options = {"transport": transport} if transport is not None else {}
        policies = [RetryPolicy(), BearerTokenCredentialPolicy(credential, SCOPE)]
        self.client = PipelineClient(base_url="https://ml.azure.com", policies=policies, **options)

    def _get(self, url: str) -> dict:
        response = self.client.send_request(HttpRequest("GET", url))
        response.raise_for_status()
        return json.loads(response.text())

    @staticmethod
    def _base(tracking_endpoint: str) -> tuple[str, str]:
        """(https://<region>.api.azureml.ms, /subscriptions/.../workspaces/<name>) of a job's tracking endpoint."""
        parsed = urlparse(tracking_endpoint.replace("azureml://", "https://", 1))
        return f"https://{parsed.netloc}", parsed.path.removeprefix("/mlflow/v1.0").rstrip("/")

    def run_details(self, tracking_endpoint: str, run_id: str) -> dict:
        host, scope = self._base(tracking_endpoint)
        return self._get(f"{host}/history/v1.0{scope}/runs/{quote(run_id)}/details")

    def run_statuses(self, tracking_endpoint: str, experiment: str, run_ids: list[str]) -> dict[str, str]:
        """The statuses of an experiment's runs, in one request: the run history's `runs:query` filtered on their
        ids, the query SDK v1's `get_runs_by_run_ids` sends to the same service (v2 jobs are its runs)."""
        host, scope = self._base(tracking_endpoint)
        body = {"filter": " or ".join(f"RunId eq {run_id}" for run_id in run_ids), "top": 500}
        request = HttpRequest(
            "POST", f"{host}/history/v1.0{scope}/experiments/{quote(experiment)}/runs:query", json=body
        )
        response = self.client.send_request(request)
        response.raise_for_status()
        listed = json.loads(response.text()).get("value", [])
        # an entry without its id or status is skipped: its run counts as not listed yet, and its follower asks
        # for the run's details instead (polling.py), rather than the whole poll failing on one odd entry
        return {run["runId"]: run["status"] for run in listed if run.get("runId") and run.get("status")}

    def metrics(self, tracking_endpoint: str, run_id: str) -> dict[str, float]:
        host, scope = self._base(tracking_endpoint)
        run = self._get(f"{host}/mlflow/v1.0{scope}/api/2.0/mlflow/runs/get?run_id={quote(run_id)}")
        return {m["key"]: float(m["value"]) for m in run.get("run", {}).get("data", {}).get("metrics", [])}
