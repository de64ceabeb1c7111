"""What an Azure ML SDK error means for the flow: retry it, or stop and say what to do.

Retried (TransientError): HTTP 429 and 5xx, connection errors and time-outs. Never retried: authentication and
authorization failures, quota, an unknown VM size, anything else the service refused (HTTP 4xx).
"""

import socket

import requests

from workspaces.errors import ConfigError, FlowError, TransientError, WorkspaceError

AUTH_HINT = (
    "check config.json and `az login`, or AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, or the "
    "--credentials-block, and that this identity has a role on the workspace"
)


def status_code(exc: BaseException) -> int | None:
    """The HTTP status of an SDK error, wherever the SDK keeps it."""
    for holder in (exc, getattr(exc, "response", None), getattr(exc, "inner_exception", None)):
        code = getattr(holder, "status_code", None)
        if isinstance(code, int):
            return code
        nested = getattr(getattr(holder, "response", None), "status_code", None)
        if isinstance(nested, int):
            return nested
    return None


def message_of(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:500]


def translate(exc: BaseException, doing: str) -> FlowError:
    """The project's error for an SDK exception raised while `doing` (e.g. "submitting run reg-0.8")."""
    if isinstance(exc, FlowError):
        return exc
    text, code = message_of(exc), status_code(exc)
    lowered = text.lower()
    if code == 429 or (code is not None and code >= 500):
        return TransientError(f"Azure ML answered HTTP {code} while {doing}; retrying with back-off ({text})")
    if _is_network_error(exc):
        return TransientError(f"network error while {doing}: {text}; retrying with back-off")
    if code in (401, 403) or "authentication" in type(exc).__name__.lower() or "unauthorized" in lowered:
        return WorkspaceError(f"Azure ML refused the credentials while {doing} ({text}); {AUTH_HINT}")
    if "quota" in lowered:
        return WorkspaceError(
            f"Azure ML quota exceeded while {doing} ({text}); ask for more quota for this VM "
            "family in the workspace's region, or choose a smaller --vm-size or --max-nodes"
        )
    if "vm size" in lowered or "vmsize" in lowered or "vm_size" in lowered:
        return ConfigError(
            f"Azure ML does not offer that VM size here ({text}); choose a --vm-size "
            "(AML_COMPUTE_CLUSTER_SKU) from the region's list, such as STANDARD_D2_V2"
        )
    return WorkspaceError(f"Azure ML refused {doing}: {text}")


def _is_network_error(exc: BaseException) -> bool:
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError, socket.timeout))
