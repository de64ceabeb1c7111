"""Where the real azureml-core meets the fake of Azure ML (fake_service.py): below `requests`, at urllib3's pools.

The SDK sends through `requests` everywhere (msrest's clients, its own `requests.post` of a submit, the vendored
blob client): each request gets a urllib3 connection pool for its host. `redirected()` makes the pools of Azure's
hosts plain-HTTP pools whose connections go to the fake on 127.0.0.1 (the Host header still names Azure's host, so
the fake knows which service was asked). Everything above runs as on Azure: the SDK's request building, urllib3's
and msrest's retries (msrest configures urllib3's Retry, and azureml's ClientBase retries on top), its polling and
its parsing, and every network error is a real one, raised from a real socket: a refused connection
(`refuse_next`), a reset or a lost answer (the fake's faults).

Authentication is an `AbstractAuthentication` of our own (`FakeAuthentication`): the SDK asks it for an ARM token,
a JWT, as it asks the Azure CLI's; no AAD is involved.
"""

import contextlib
import threading
import time

import jwt
import urllib3
from msrest.universal_http.requests import ClientRetryPolicy
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.poolmanager import SSL_KEYWORDS

AZURE_HOSTS = (".azure.com", ".azureml.ms", ".azureml.net", ".core.windows.net", ".microsoftonline.com")
POOL_SETTINGS = ("timeout", "maxsize", "block", "headers", "retries", "blocksize", "socket_options")
_original_new_pool = urllib3.PoolManager._new_pool
_target: dict[str, int] = {}  # "port": where the fake listens; "refuse": connections still to refuse
_lock = threading.Lock()


class ToTheFake(HTTPConnection):
    """A connection to one of Azure's hosts that reaches the fake instead (or a closed port, to be refused)."""

    def _new_conn(self):
        with _lock:
            refused = _target.get("refuse", 0) > 0
            _target["refuse"] = max(0, _target.get("refuse", 0) - 1)
        # connect there, and name Azure's host again at once: the Host header of the next request is made from it
        host, port = self._dns_host, self.port
        self._dns_host, self.port = "127.0.0.1", _target["closed"] if refused else _target["port"]
        try:
            return super()._new_conn()
        finally:
            self._dns_host, self.port = host, port


def _new_pool(self, scheme, host, port, request_context=None):
    if not host.endswith(AZURE_HOSTS) or "port" not in _target:
        return _original_new_pool(self, scheme, host, port, request_context)
    context = dict(request_context or self.connection_pool_kw)
    for key in (*SSL_KEYWORDS, "scheme", "host", "port"):
        context.pop(key, None)
    pool = HTTPConnectionPool(host, port or 443, **{k: v for k, v in context.items() if k in POOL_SETTINGS})
    pool.ConnectionCls = ToTheFake
    return pool


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens: connecting is refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_original_retry_init = ClientRetryPolicy.__init__


def _quicker_retries(policy) -> None:
    """msrest's retries of a request (urllib3's Retry: three, backing off from 0.8 s, and azureml's ClientBase
    tries each call four times over them: 19 s of a 503 that lasts) as they are, from 0.05 s: a test of the
    SDK's retries needs their number and their order, not their waits (tests/conftest.py zeroes ClientBase's)."""
    _original_retry_init(policy)
    policy.policy.backoff_factor = 0.05


def redirect(port: int) -> None:
    """From now on, in this process, Azure's hosts are the fake listening on `port`."""
    _target.update(port=port, closed=closed_port(), refuse=0)
    urllib3.PoolManager._new_pool = _new_pool
    ClientRetryPolicy.__init__ = _quicker_retries


def undo() -> None:
    _target.clear()
    urllib3.PoolManager._new_pool = _original_new_pool
    ClientRetryPolicy.__init__ = _original_retry_init


def refuse_next(connections: int) -> None:
    """The next `connections` new connections to Azure are refused (the network is down, the host unreachable)."""
    with _lock:
        _target["refuse"] = connections


@contextlib.contextmanager
def redirected(port: int):
    redirect(port)
    try:
        yield
    finally:
        undo()


SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
TENANT = "00000000-0000-0000-0000-000000000001"


def token(seconds: float = 3600, tenant: str = TENANT) -> str:
    """An access token as AAD's are shaped (the SDK reads its expiry and tenant); signed with a key nobody checks."""
    now = int(time.time())
    claims = {"aud": "https://management.azure.com/", "iat": now, "exp": now + int(seconds), "tid": tenant}
    claims |= {"oid": "11111111-2222-3333-4444-555555555555", "upn": "tester@example.org", "iss": "fake"}
    return jwt.encode(claims, "a key nobody checks, long enough for HS256", algorithm="HS256")


def fake_authentication():
    """An AbstractAuthentication of our own: a fresh token on each ask, as the CLI's login gives."""
    from azureml.core.authentication import AbstractAuthentication

    class FakeAuthentication(AbstractAuthentication):
        def __init__(self):
            super().__init__(cloud="AzureCloud")
            self.asked = 0

        def _get_arm_token(self):
            self.asked += 1
            return token()

        def _get_graph_token(self):
            return token()

        def _get_azureml_client_token(self):
            return token()

        def _get_all_subscription_ids(self):  # (the CLI's login asks ARM; this identity has the one)
            from azureml.core.authentication import _SubscriptionInfo

            return [_SubscriptionInfo("mnist", SUBSCRIPTION)], TENANT

        def _get_workspace(self, subscription_id, resource_group, name):
            from azureml.core import Workspace

            return Workspace(subscription_id, resource_group, name, auth=self)

    return FakeAuthentication()


def connect_to_fake(port: int):
    """The adapter's seam (workspaces/azureml_v1/sdk.py: AzureSdk) over a real azureml-core Workspace whose every
    request goes to the fake listening on `port`, authenticated by FakeAuthentication."""
    from azureml.core import Workspace

    from workspaces.azureml_v1.sdk import AzureSdk

    redirect(port)
    workspace = Workspace(SUBSCRIPTION, "rg-mnist", "ws-mnist", auth=fake_authentication())
    return AzureSdk(workspace, "a fake of Azure ML (tests)")


def install(port: int, poll_seconds: float = 0.2) -> None:
    """Put the fake behind the adapter in this process (what a flow run as a command needs)."""
    from workspaces.azureml_v1 import workspace

    workspace.make_sdk = lambda ref: connect_to_fake(port)
    workspace.AzureMLWorkspace.poll_seconds = poll_seconds
