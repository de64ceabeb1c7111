"""What each Azure ML SDK v1 error means for the flow: retried (429, 5xx, the network) or final (authentication,
authorization, quota, VM size, anything else refused), with what to do. Each error is the one the real azureml-core
raises when the HTTP fake of Azure ML answers so (raised once per module, each by the SDK call of the adapter's seam
that meets it on Azure), then translated (workspaces/azureml_common/errors.py)."""

import pytest

pytest.importorskip("azureml.core", reason="the `azure` extra is not installed (make install-azure)")

from tests.workspaces.azureml_v1 import http_seam
from tests.workspaces.azureml_v1.fake_runner import PREEMPTED, SCRIPT_FAILED
from workspaces.azureml_common.errors import translate
from workspaces.azureml_common.runs import run_error
from workspaces.base import ComputeSpec, DataRef, TrainingJob
from workspaces.errors import ConfigError, RunFailed, TransientError, WorkspaceError

# the texts of quota and size refusals are Azure's as users reported them (illustrative: no workspace here)
QUOTA = "Operation results in exceeding quota limits of Core. Maximum allowed: 0, Current in use: 0, Additional: 8."
VM_SIZE = "Virtual Machine size: 'STANDARD_Z99' is not supported for subscription in location 'westeurope'."
MANY = 30  # more answers than the SDK's own retries of one call take
SUBMIT, COMPUTE, MODELS, HISTORY = "/snapshotrun", "/computes/cpu-cluster", "/modelmanagement/", "/runs/a-run-id"
# (what the service does, the seam's call that meets it, what the flow does, words of its message)
TABLE = [
    ("submit 429", ("POST", SUBMIT, 429, "TooManyRequests", MANY), "submit", TransientError, "answered HTTP 429"),
    ("submit 503", ("POST", SUBMIT, 503, "ServiceUnavailable", MANY), "submit", TransientError, "answered HTTP 503"),
    ("compute 429", ("GET", COMPUTE, 429, "TooManyRequests", MANY), "find_compute", TransientError, "HTTP 429"),
    ("compute 500", ("GET", COMPUTE, 500, "InternalServerError", MANY), "find_compute", TransientError, "HTTP 500"),
    ("models 500", ("GET", MODELS, 500, "InternalServerError", MANY), "models", TransientError, "answered HTTP 500"),
    ("history 429", ("GET", HISTORY, 429, "TooManyRequests", MANY), "run_details", TransientError, "HTTP 429"),
    ("history 503", ("GET", HISTORY, 503, "ServiceUnavailable", MANY), "run_details", TransientError, "HTTP 503"),
    ("refused", ("refuse", MANY), "run_details", TransientError, "network error"),
    ("history 403", ("GET", HISTORY, 403, "AuthorizationFailed", 1), "run_details", WorkspaceError, "has a role"),
    ("quota", ("PUT", COMPUTE, 400, "QuotaExceeded", 1, QUOTA), "create_compute", WorkspaceError, "more quota"),
    ("vm size", ("PUT", COMPUTE, 400, "VMSizeNotSupported", 1, VM_SIZE), "create_compute", ConfigError, "--vm-size"),
    ("submit 400", ("POST", SUBMIT, 400, "UserError", 1), "submit", WorkspaceError, "Azure ML refused"),
    ("model 404", ("GET", "/models/", 404, "ModelNotFound", 1), "download_model", WorkspaceError, "Azure ML refused"),
]


def meet(sdk, call: str, training: str):
    """Make the seam's `call` as the adapter makes it; the exception the SDK raises."""
    from workspaces.azureml_v1.jobs import provisioning_configuration, script_run_config, training_environment

    data = DataRef(datastore="workspaceblobstore", path="mnist", files={}, mount="workspaceblobstore/mnist")
    job = TrainingJob(
        experiment="sklearn-mnist",
        run_name="reg-0.8",
        regularization=0.8,
        data=data,
        source_dir=training,
        source_hash="0" * 64,
        compute="cpu-cluster",
    )
    calls = {
        "submit": lambda: sdk.submit(
            "sklearn-mnist", script_run_config(job, "cpu-cluster", training_environment()), {}, "a-run-id"
        ),
        "find_compute": lambda: sdk.find_compute("cpu-cluster"),
        "create_compute": lambda: sdk.create_compute(
            "cpu-cluster", provisioning_configuration(ComputeSpec()), lambda line: None
        ),
        "models": lambda: sdk.models("sklearn_mnist"),
        "run_details": lambda: sdk.run_details("a-run-id"),
        "download_model": lambda: sdk.download_model("sklearn_mnist", "7", "/tmp/nowhere"),
    }
    try:
        calls[call]()
    except Exception as error:
        return error
    raise AssertionError(f"{call} raised nothing")


@pytest.fixture(scope="module")
def raised(azurite, tmp_path_factory):
    """Each row's exception, as the real SDK raised it against the fake (one fake for the module)."""
    from tests.conftest import PROJECT
    from tests.workspaces.azureml_v1.fake_azureml import FakeAzureMLv1

    fake = FakeAzureMLv1(tmp_path_factory.mktemp("azure"), azurite)
    try:
        sdk = http_seam.connect_to_fake(fake.port)
        errors = {}
        for name, fault, call, _, _ in TABLE:
            fake.faults.clear()
            if fault[0] == "refuse":
                http_seam.refuse_next(fault[1])
            else:
                method, path, status, code, times, *message = fault
                fake.fail(method, path, status, code, message[0] if message else f"{code} (the fake)", times)
            errors[name] = meet(sdk, call, str(PROJECT / "training"))
            http_seam.refuse_next(0)
        yield errors
    finally:
        http_seam.undo()
        fake.close()


@pytest.mark.parametrize("name, fault, call, kind, words", TABLE, ids=[row[0] for row in TABLE])
def test_each_sdk_error_is_retried_or_final_with_what_to_do(raised, name, fault, call, kind, words):
    translated = translate(raised[name], "submitting run 'reg-0.8'")
    assert type(translated) is kind and words in str(translated), (type(raised[name]), str(raised[name])[:500])
    assert "\n" not in str(translated) and "submitting run 'reg-0.8'" in str(translated)


def test_the_service_s_own_words_reach_the_message_not_its_json(raised):
    message = str(translate(raised["submit 429"], "submitting"))
    assert "(TooManyRequests: TooManyRequests (the fake))" in message and "status_code" not in message


def test_an_authentication_failure_is_final_and_says_to_log_in():
    from azureml.exceptions import AuthenticationException

    translated = translate(AuthenticationException("Could not retrieve user token. Please run 'az login'"), "x")
    assert isinstance(translated, WorkspaceError) and "az login" in str(translated)


@pytest.mark.parametrize(
    "error, kind, words",
    [
        ({"error": PREEMPTED}, TransientError, "lost its node"),
        ({"error": SCRIPT_FAILED}, RunFailed, "failed on Azure ML (UserError: AzureMLCompute job failed. JobFailed"),
    ],
)
def test_a_run_that_lost_its_node_is_retried_and_a_failing_script_is_not(error, kind, words):
    assert isinstance(run_error("reg-0.8", "Failed", error, (), stopped=False), kind)
    assert words in str(run_error("reg-0.8", "Failed", error, (), stopped=False))
