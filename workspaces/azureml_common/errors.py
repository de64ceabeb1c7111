"""What an Azure ML SDK error (v1 or v2) means for the flow: retry it, or stop and say what to do.

Retried (TransientError): HTTP 429 and 5xx, connection errors, resets and time-outs (however the SDK wraps them:
msrest's ClientRequestError, an error raised while handling one). Never retried: authentication and authorization
failures, quota, an unknown VM size, anything else the service refused (HTTP 4xx).

The SDK keeps an error's HTTP status in different places, read from its code (azureml-core 1.61): the run-history
client's `ServiceException` has `status_code`; `Experiment.submit`'s `ExperimentExecutionException` has it only
inside its text, a JSON dump with `"status_code": 429` (`_commands._raise_request_error`); `ComputeTargetException`
(azureml/core/compute/compute.py) and the model service's `WebserviceException` (azureml/_restclient/
models_client.py) say "Response Code: 429" in theirs.
The SDK has already retried 408/429/5xx itself (three times, with back-off) before any of these reach us: what
does is still worth retrying, later, by the flow. SDK v2 raises azure-core's errors, which carry `status_code`
and the parsed error (`error.code`, `error.message`); its pipeline has retried 408/429/5xx too, honouring
Retry-After.
"""

import ast
import contextlib
import json
import re
import socket
from typing import Any

import requests
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from workspaces.errors import ConfigError, FlowError, TransientError, WorkspaceError
from workspaces.secrets import redacted

AUTH_HINT = (
    "check config.json and `az login`, or AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, or the "
    "--credentials-block, and that this identity has a role on the workspace"
)


STATUS_IN_TEXT = re.compile(r'"status_code":\s*(\d{3})|Response Code: (\d{3})')
MESSAGE_IN_TEXT = re.compile(r'"code":\s*"([^"]*)".*?"message":\s*"((?:[^"\\]|\\.)*)"', re.DOTALL)


def causes(exc: BaseException) -> list[BaseException]:
    """The error and those it was raised from or while handling: SDK v1's model client turns the service's error
    into a WebserviceException inside its `except`, and its text may then lose the status ("Response Code: None"
    when the body has no `statusCode`) or the conversion fail (an AttributeError on a body that is not JSON); the
    answer's status is still on the error it was handling."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain and len(chain) < 10:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return chain


def status_code(exc: BaseException) -> int | None:
    """The HTTP status of an SDK error, wherever the SDK keeps it (see the module's docstring)."""
    for error in causes(exc):
        for holder in (error, getattr(error, "response", None), getattr(error, "inner_exception", None)):
            code = getattr(holder, "status_code", None)
            if isinstance(code, int):
                return code
            nested = getattr(getattr(holder, "response", None), "status_code", None)
            if isinstance(nested, int):
                return nested
        found = STATUS_IN_TEXT.search(_text(error))
        if found:
            return int(found.group(1) or found.group(2))
    return None


def _text(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or str(exc) or type(exc).__name__)


def message_of(exc: BaseException) -> str:
    """What the service said, in one line, its secrets redacted: the error's code and message (azure-core's parsed
    error, or the service's JSON answer inside the text, as SDK v1's submit and compute errors hold it), else the
    text. An answer that is not what it seems (an escape JSON does not know, bytes that are not text) is given as
    it came: reading a message is never the reason an error goes unexplained."""
    error: Any = getattr(exc, "error", None)  # azure-core's HttpResponseError: the parsed OData error
    if getattr(error, "code", None) and getattr(error, "message", None):
        return redacted(" ".join(f"{error.code}: {error.message}".split()))[:500]
    text = _text(exc)
    if "Content: b" in text:  # compute.py puts the answer's bytes in as their repr: read them back
        with contextlib.suppress(ValueError, SyntaxError, UnicodeDecodeError, AttributeError, MemoryError):
            text = ast.literal_eval(text.split("Content: ", 1)[1].strip()).decode()
    found = MESSAGE_IN_TEXT.search(text)
    if found:
        try:
            message = json.loads('"' + found.group(2) + '"')  # the JSON string's escapes undone
        except ValueError:  # (a backslash JSON does not know: the message as it is)
            message = found.group(2)
        text = f"{found.group(1)}: {message}"
    return redacted(" ".join(str(text).split()))[:500]


def translate(exc: BaseException, doing: str) -> FlowError:
    """The project's error for an SDK exception raised while `doing` (e.g. "submitting run reg-0.8"). It never
    raises itself: an error it cannot read is a retried one if its status says so, else a final one that names it
    (a translation that raised was taken for an interruption, and a healthy run cancelled)."""
    try:
        return _translate(exc, doing)
    except Exception as failure:
        try:
            code = status_code(exc)
        except Exception:
            code = None
        if code == 429 or (code is not None and code >= 500):
            return TransientError(f"Azure ML answered HTTP {code} while {doing}; retrying with back-off")
        return WorkspaceError(
            f"Azure ML refused {doing}: {type(exc).__name__} (its message could not be read: {type(failure).__name__})"
        )


def _translate(exc: BaseException, doing: str) -> FlowError:
    if isinstance(exc, FlowError):
        return exc
    text, code = message_of(exc), status_code(exc)
    lowered = text.lower()
    if code == 429 or (code is not None and code >= 500):
        return TransientError(f"Azure ML answered HTTP {code} while {doing}; retrying with back-off ({text})")
    if _is_network_error(exc):
        return TransientError(f"network error while {doing}: {text}; retrying with back-off")
    if "blobalreadyexists" in lowered.replace(" ", ""):
        # a blob write whose answer was lost, sent again by the storage client with If-None-Match: * (SDK v1's
        # snapshot upload does so), meets the blob it wrote itself: the write took; the step's retry writes anew
        return TransientError(f"a write was answered 'already exists' while {doing}, its first answer lost: retrying")
    if code == 401 and "expired" in lowered:  # a stale token: the next try asks the credential for a fresh one
        return TransientError(f"Azure ML found the access token expired while {doing}; retrying with a new one")
    refused = "unauthorized" in lowered or "'forbidden'" in lowered  # a 403 after the SDK's retries says so
    if code in (401, 403) or "authentication" in type(exc).__name__.lower() or refused:
        return WorkspaceError(f"Azure ML refused the credentials while {doing} ({text}); {AUTH_HINT}")
    if "quota" in lowered:
        return WorkspaceError(
            f"Azure ML quota exceeded while {doing} ({text}); ask for more quota for this VM "
            "family in the workspace's region, or choose a smaller --vm-size or --max-nodes"
        )
    if "vm size" in lowered or "vmsize" in lowered or "vm_size" in lowered:
        return ConfigError(
            f"Azure ML does not offer that VM size here, while {doing} ({text}); choose a --vm-size "
            "(AML_COMPUTE_CLUSTER_SKU) from the region's list, such as STANDARD_D2_V2"
        )
    return WorkspaceError(f"Azure ML refused {doing}: {text}")


NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # an answer cut off in the middle
    ServiceRequestError,
    ServiceResponseError,
    ConnectionError,
    TimeoutError,
    socket.timeout,
)
# msrest (under SDK v1's run-history and model clients) wraps a refused or reset connection into its own
# ClientRequestError once its retries are spent (msrest/universal_http/requests.py): a network error too
CLIENT_REQUEST_ERROR = "msrest.exceptions.ClientRequestError"


def _is_network_error(exc: BaseException) -> bool:
    return any(
        isinstance(error, NETWORK_ERRORS) or f"{type(error).__module__}.{type(error).__name__}" == CLIENT_REQUEST_ERROR
        for error in causes(exc)
    )
