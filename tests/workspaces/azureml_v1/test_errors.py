"""What each Azure ML SDK v1 error means for the flow, fed the SDK's own exception classes with messages shaped as
the SDK builds them (sdk_errors.py names the SDK code of each): retried (429, 5xx, the network) or final
(authentication, authorization, quota, VM size, anything else refused), with what to do."""

import pytest

pytest.importorskip("azureml.core", reason="the `azure` extra is not installed (make install-azure)")

import requests
from azureml.exceptions import AuthenticationException, UserErrorException

from tests.workspaces.azureml_v1 import sdk_errors
from tests.workspaces.azureml_v1.fake_runner import PREEMPTED, SCRIPT_FAILED
from workspaces.azureml_common.errors import translate
from workspaces.azureml_common.runs import run_error
from workspaces.errors import ConfigError, RunFailed, TransientError, WorkspaceError

# the texts of quota and size refusals are Azure's as users reported them (illustrative: no workspace here)
QUOTA = (
    "Operation results in exceeding quota limits of Core. Maximum allowed: 0, Current in use: 0, "
    "Additional requested: 8."
)
VM_SIZE = (
    "Virtual Machine size: 'STANDARD_Z99' is not supported for subscription 00000000-1111-2222-3333-444444444444 "
    "in location 'westeurope'."
)
# what ClientBase._handle_retry raises for a 403 (azureml/_restclient/clientbase.py)
FORBIDDEN = (
    "\nOperation returned an invalid status code 'Forbidden'. The possible reason could be:\n"
    "1. You are not authorized to access this resource, or directory listing denied."
)

TABLE = [  # (the SDK's exception, raised while, what the flow does, words of its message)
    (sdk_errors.submit_error(429, "TooManyRequests", "Rate limit exceeded"), TransientError, "answered HTTP 429"),
    (sdk_errors.submit_error(503, "ServiceUnavailable", "Try again later"), TransientError, "answered HTTP 503"),
    (sdk_errors.compute_error(429, "TooManyRequests", "Too many requests"), TransientError, "answered HTTP 429"),
    (sdk_errors.compute_error(500, "InternalServerError", "Internal error"), TransientError, "answered HTTP 500"),
    (sdk_errors.model_service_error(500, "InternalServerError", "Oops"), TransientError, "answered HTTP 500"),
    (sdk_errors.service_error(429, "TooManyRequests", "Rate limit exceeded"), TransientError, "answered HTTP 429"),
    (sdk_errors.service_error(503, "ServiceUnavailable", "Try again later"), TransientError, "answered HTTP 503"),
    (requests.ConnectionError("Connection reset by peer"), TransientError, "network error"),
    (AuthenticationException("Could not retrieve user token. Please run 'az login'"), WorkspaceError, "az login"),
    (UserErrorException(FORBIDDEN), WorkspaceError, "has a role on the workspace"),
    (sdk_errors.service_error(403, "AuthorizationFailed", "No access"), WorkspaceError, "has a role on the workspace"),
    (sdk_errors.compute_error(400, "QuotaExceeded", QUOTA), WorkspaceError, "ask for more quota"),
    (sdk_errors.compute_error(400, "VMSizeNotSupported", VM_SIZE), ConfigError, "choose a --vm-size"),
    (sdk_errors.submit_error(400, "UserError", "Invalid run configuration"), WorkspaceError, "Azure ML refused"),
    (sdk_errors.model_service_error(404, "ModelNotFound", "No such model"), WorkspaceError, "Azure ML refused"),
]


@pytest.mark.parametrize("error, kind, words", TABLE, ids=[f"{type(e).__name__}-{k.__name__}" for e, k, _ in TABLE])
def test_each_sdk_error_is_retried_or_final_with_what_to_do(error, kind, words):
    translated = translate(error, "submitting run 'reg-0.8'")
    assert type(translated) is kind and words in str(translated)
    assert "\n" not in str(translated) and "submitting run 'reg-0.8'" in str(translated)


def test_the_service_s_own_words_reach_the_message_not_its_json():
    message = str(translate(sdk_errors.submit_error(429, "TooManyRequests", "Rate limit exceeded"), "submitting"))
    assert "(TooManyRequests: Rate limit exceeded)" in message and "status_code" not in message


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
