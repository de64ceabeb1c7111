"""The Azure ML SDK v1's own exceptions, built as the installed SDK (azureml-core 1.61) builds them, for the fake
of the seam and for the translation tests. Each builder names the SDK code it copies:

- `submit_error`: `ExperimentExecutionException` from `azureml/_execution/_commands.py: _raise_request_error`,
  whose text is `get_http_exception_response_string(response)`: a JSON dump holding the HTTP status;
- `compute_error`: `ComputeTargetException` from `azureml/core/compute/compute.py` ("Received bad response from
  Resource Provider:\\nResponse Code: ...");
- `model_service_error`: `WebserviceException` from `azureml/_restclient/models_client.py`
  (`model_error_response_to_webservice_exception`): the status only in its text, no status attribute;
- `service_error`: `ServiceException` of the run-history client, wrapping msrest's `ErrorResponseException`
  over a real `requests.Response` (it keeps `status_code`).
"""

import json

import requests
from azureml._base_sdk_common.common import get_http_exception_response_string
from azureml._restclient import models
from azureml._restclient.exceptions import ServiceException
from azureml._restclient.models.error_response import ErrorResponseException
from azureml.exceptions import ComputeTargetException, ExperimentExecutionException, WebserviceException
from msrest import Deserializer

WORKSPACE = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-mnist"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws-mnist"
)


def _response(status: int, body: dict, url: str = "") -> requests.Response:
    response = requests.Response()
    response.status_code, response.url, response.reason = status, url, requests.status_codes._codes[status][0]
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    return response


def _error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "details": []}}


def submit_error(status: int, code: str, message: str) -> ExperimentExecutionException:
    url = f"https://westeurope.experiments.azureml.net/execution/v1.0{WORKSPACE}/experiments/sklearn-mnist/startrun"
    return ExperimentExecutionException(
        get_http_exception_response_string(_response(status, _error_body(code, message), url))
    )


def compute_error(status: int, code: str, message: str) -> ComputeTargetException:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "x-ms-request-id": "6f8c2b9e-0000-0000-0000-000000000000",
    }
    content = json.dumps(_error_body(code, message)).encode()
    return ComputeTargetException(
        "Received bad response from Resource Provider:\n"
        f"Response Code: {status}\nHeaders: {headers}\nContent: {content}"
    )


def model_service_error(status: int, code: str, message: str) -> WebserviceException:
    return WebserviceException(
        "Received bad response from Model Management Service:\nResponse Code: {}\nCorrelation: {}\nContent: {}".format(
            status, {"RequestId": "1c7d7d41-0000-0000-0000-000000000000"}, json.dumps(_error_body(code, message))
        )
    )


def service_error(status: int, code: str, message: str) -> ServiceException:
    client_models = {name: kind for name, kind in models.__dict__.items() if isinstance(kind, type)}
    return ServiceException(
        ErrorResponseException(Deserializer(client_models), _response(status, _error_body(code, message)))
    )
