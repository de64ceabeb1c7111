"""What an SDK error means: retried (429, 5xx, network) or final (auth, quota, VM size), with advice."""

import pytest

pytest.importorskip("azureml.core", reason="the `azure` extra is not installed (make install-azure)")

import requests
from azureml._restclient.exceptions import ServiceException
from azureml.exceptions import AuthenticationException, ComputeTargetException

from tests.workspaces.azureml_v1.fake_sdk import http_error
from workspaces.azureml_v1.errors import translate
from workspaces.errors import ConfigError, TransientError, WorkspaceError


class ErrorResponse(Exception):
    """What msrest hands ServiceException: a message and the HTTP response."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.message, self.response = message, requests.Response()
        self.response.status_code = status


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried(status):
    error = translate(ServiceException(ErrorResponse(status, "Too many requests")), "submitting run 'reg-0.8'")
    assert isinstance(error, TransientError)
    assert f"Azure ML answered HTTP {status} while submitting run 'reg-0.8'; retrying" in str(error)


def test_a_connection_error_is_retried():
    assert isinstance(translate(requests.ConnectionError("reset by peer"), "following run"), TransientError)


@pytest.mark.parametrize(
    "exc, kind, advice",
    [
        (AuthenticationException("Could not retrieve user token"), WorkspaceError, "az login"),
        (http_error(403, "AuthorizationFailed"), WorkspaceError, "has a role on the workspace"),
        (
            ComputeTargetException("Operation results in exceeding quota limits of Core"),
            WorkspaceError,
            "ask for more quota",
        ),
        (
            ComputeTargetException("The specified VM size STANDARD_Z99 is not supported in region westeurope"),
            ConfigError,
            "choose a --vm-size",
        ),
        (http_error(400, "Bad request"), WorkspaceError, "Azure ML refused submitting"),
    ],
)
def test_what_cannot_succeed_again_is_final_and_says_what_to_do(exc, kind, advice):
    error = translate(exc, "submitting")
    assert type(error) is kind and advice in str(error)
