"""A v2 job's log, read where azure-ai-ml's own `jobs.stream` reads it: the job's default output folder in the
artifact store, where the common runtime writes `user_logs/std_log.txt` (the run history lists no `logFiles` for
such a job); the run history's `logFiles` only for a job without that folder (workspaces/azureml_v2/history.py)."""

from urllib.parse import unquote, urlparse

import pytest

from tests.flows.flow_runs import edit_train_script, flow_run_id
from tests.prefect_api import log_lines

pytestmark = pytest.mark.azure_http


def details_answers(fake) -> list[dict]:
    return [body for method, url, status, body in fake.answered if urlparse(url).path.endswith("/details")]


def log_listings(fake) -> list[str]:
    """The listings of a job's log folder the adapter asked the artifact store for."""
    queries = [unquote(urlparse(url).query) for method, url in fake.requests if method == "GET"]
    return [q for q in queries if "comp=list" in q and "/user_logs/" in q]


def test_a_jobs_lines_come_from_its_output_folder_where_the_runtime_writes_them(
    azure_v2_flow, fake_azure_v2, training_copy
):
    edit_train_script(training_copy, "    print('hello from the node', flush=True)\n")
    state = azure_v2_flow(training_dir=str(training_copy))
    assert state.is_completed(), state.message
    lines = log_lines(flow_run_id(state), expect="[reg-0.8] Accuracy is")
    assert "[reg-0.8] hello from the node" in lines
    assert details_answers(fake_azure_v2) and all(not d["logFiles"] for d in details_answers(fake_azure_v2))
    assert log_listings(fake_azure_v2) and all(
        "ExperimentRun/dcid.mnist-flow-" in q for q in log_listings(fake_azure_v2)
    )


def test_a_failed_jobs_error_carries_the_last_lines_of_its_log(azure_v2_flow, fake_azure_v2, training_copy):
    edit_train_script(training_copy, "    print('about to fail', flush=True)\n    raise ValueError('no such column')\n")
    state = azure_v2_flow(training_dir=str(training_copy))
    error = str(state.result(raise_on_failure=False))
    assert "training run 'reg-0.8' failed on Azure ML" in error
    assert "about to fail" in error and "ValueError: no such column" in error


def test_a_job_without_an_output_folder_is_read_from_the_run_historys_log_files(
    azure_v2_flow, fake_azure_v2, training_copy
):
    """The SDK's fallback (`_current_details.log_files` when the job has no default uri_folder output)."""
    fake_azure_v2.default_output = False
    edit_train_script(training_copy, "    print('hello from the node', flush=True)\n")
    state = azure_v2_flow(training_dir=str(training_copy))
    assert state.is_completed(), state.message
    assert "[reg-0.8] hello from the node" in log_lines(flow_run_id(state), expect="[reg-0.8] Accuracy is")
    assert any(d["logFiles"] for d in details_answers(fake_azure_v2)) and not log_listings(fake_azure_v2)
