"""Azure ML's services as SDK v1 (azureml-core) speaks to them, faked at the HTTP level: a real HTTP server on
127.0.0.1 that the real SDK reaches through http_seam.py. The SDK's own code builds every request, retries, polls
and parses every answer; only the answers are ours. Their shapes come from the SDK's own autorest models
(`azureml._restclient.models`, the `_attribute_map` of the model each call deserializes into; test_answers.py
deserializes every answer the fake gives with the SDK's own msrest Deserializer, so a wrong field name fails a
test), from ARM's published metadata, and from the v2 fake's recorded sessions (recorded/README.md says which).

The services, by the host the SDK asks (the Host header):
- management.azure.com: ARM's cloud metadata, the workspace, its computes (fake_azureml.py, fake_computes.py);
- <region>.api.azureml.ms: discovery, run history, execution, content (snapshots), artifacts, metrics, datastores,
  model management (fake_history.py, fake_models.py);
- <account>.blob.core.windows.net: sent on to Azurite, Microsoft's storage emulator, as the v2 fake does.

A run is real: its snapshot and data are read back from Azurite, and fake_runner.py runs its script in a process
of its own that outlives the flow, walking Azure ML's statuses. The state is the server's (one per test, serving
every process of the test: the flow, a flow started as a command), and the runs' files under `root`.

Faults: tests/workspaces/faults.py decides them (targeted, or seeded at random), this server does them: a request
is answered with an HTTP error, reset before it is read, or acted on and then reset, its answer lost (what Azure
does to a request). See fail()'s docstring.
"""

import contextlib
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

import requests

from tests.workspaces.faults import Fault, Faults

RECORDED = Path(__file__).with_name("recorded")
Answer = tuple[int, Any, dict]  # status, JSON body (or bytes), headers


@dataclass
class Request:
    method: str
    host: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    raw_query: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]


def error_body(code: str, message: str, status: int) -> dict:
    """The run-history services' error answer (the SDK's ErrorResponse model: error.code, error.message)."""
    return {"error": {"code": code, "message": message, "details": [], "innerError": None}, "statusCode": status}


class FakeServer:
    """The HTTP side: routes (method, host kind, path pattern) to handlers; faults; the log of requests."""

    def __init__(self):
        self.routes: list[tuple[str, str, re.Pattern, Callable[..., Answer], str | None]] = []
        self.answers: list[tuple[str, str, Any]] = []  # (the SDK's model, path, body) of each modelled answer
        self.requests: list[tuple[str, str, str]] = []  # (method, host, path) of every request, in order
        self.faults = Faults()
        self.unanswered: list[str] = []  # requests no route took: a gap of the fake (tests fail on it)
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()  # open (kept-alive) connections, closed with the server
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def route(
        self, method: str, host: str, pattern: str, handler: Callable[..., Answer], model: str | None = None
    ) -> None:
        """Answer requests of `method` to `host`'s kind whose path matches `pattern` with `handler`; `model` names
        the SDK's model the answer is deserialized into (test_answers.py checks each against it)."""
        self.routes.append((method, host, re.compile(f"^{pattern}$"), handler, model))

    def close(self) -> None:
        """Stop serving, and close the connections clients keep alive: a pool of the SDK's, reused by the next
        test, must not reach this fake's state."""
        self.http.shutdown()
        self.http.server_close()
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self.connections.clear()

    # ---- faults ---------------------------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        path_part: str,
        status: int = 0,
        code: str = "",
        message: str = "",
        times: int = 1,
        kind: str = "status",
        headers: dict | None = None,
        body: Any = None,
        seconds: float = 0.0,
    ) -> None:
        """The next `times` requests of `method` whose path holds `path_part` are answered `status` with the
        services' error body (or `body`, raw bytes or JSON, when given: a body without `statusCode`, an HTML page).
        Or, by `kind`: "reset", the connection is reset before the service acts; "lost", the service acts, then the
        connection is reset: its answer is lost; "cut", its answer breaks off half way; "hang", its answer comes
        `seconds` late."""
        answer = body if body is not None or kind != "status" else error_body(code, message, status)
        self.faults.fail(method, path_part, kind, status, times, answer, headers, seconds)

    def count(self, method: str, path_part: str) -> int:
        return sum(m == method and path_part in p for m, _, p in self.requests)

    # ---- dispatch -------------------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Answer:
        kind = host_kind(request.host)
        for method, host, pattern, handler, model in self.routes:
            if method == request.method and host == kind and (found := pattern.match(request.path)):
                try:
                    answer = handler(request, *found.groups())
                    if model and answer[0] < 300:
                        with self.lock:
                            self.answers.append((model, request.path, answer[1]))
                    return answer
                except Exception as exc:  # a gap of the fake: answered as the service's own failure, and kept
                    self.unanswered.append(f"{request.method} {request.path}: {type(exc).__name__}: {exc}")
                    return 500, error_body("InternalServerError", f"the fake failed: {exc}", 500), {}
        self.unanswered.append(f"{request.method} {request.host} {request.path}")
        return 404, error_body("NotFound", f"the fake has no {request.method} {request.path}", 404), {}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with server.lock:
                    server.connections.add(self.connection)

            def finish(self):
                with server.lock:
                    server.connections.discard(self.connection)
                super().finish()

            def handle_request(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = read_chunked(self.rfile)
                url = urlparse(self.path)
                host = (self.headers.get("Host") or "").split(":")[0]
                request = Request(
                    self.command, host, unquote(url.path), parse_qs(url.query), dict(self.headers), body, url.query
                )
                with server.lock:
                    server.requests.append((request.method, host, request.path))
                fault = server.faults.decide(request.method, host, request.path)
                if fault is not None and fault.kind == "reset":
                    return reset(self)
                if fault is not None and fault.kind == "status":
                    return self.answer(fault.status, *error_answer(fault, host))
                if fault is not None and fault.kind == "hang":
                    time.sleep(fault.seconds)
                status, answer, headers = server.dispatch(request)
                if fault is not None and fault.kind == "lost":
                    return reset(self)
                self.answer(status, answer, headers, cut=fault is not None and fault.kind == "cut")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_request

            def answer(self, status: int, body: Any, headers: dict, cut: bool = False) -> None:
                content = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
                if cut:  # all its headers, half its body, and the connection is gone
                    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
                self.send_response(status)
                if "content-type" not in {name.lower() for name in headers}:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if cut:
                    self.wfile.write(content[: len(content) // 2])
                    self.wfile.flush()
                    return reset(self)
                if self.command != "HEAD":
                    self.wfile.write(content)

            def log_message(self, *args):
                pass

        return Handler


def error_answer(fault: Fault, host: str) -> tuple[Any, dict]:
    """A status fault's body and headers: the one given, else what the service on `host` answers with it."""
    if fault.body is not None:
        return fault.body, fault.headers
    if host_kind(host) == "blob":  # Azure Storage's error: XML, its code also in a header
        code = STORAGE_CODES.get(fault.status, "InternalError")
        xml = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>fault</Message></Error>'
        return xml.encode(), {"Content-Type": "application/xml", "x-ms-error-code": code, **fault.headers}
    codes = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}
    return error_body(codes.get(fault.status, "Error"), "a fault of the test", fault.status), fault.headers


STORAGE_CODES = {429: "ServerBusy", 500: "InternalError", 503: "ServerBusy"}  # Azure Storage's error codes


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the handler's connection with a TCP reset (SO_LINGER 0), as a dropped connection reaches the client.
    (Its reader and writer hold the socket open too: all three are closed, or no reset is sent.)"""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    for stream in (handler.rfile, handler.wfile, handler.connection):
        with contextlib.suppress(OSError, ValueError):
            stream.close()


def read_chunked(stream) -> bytes:
    body = b""
    while (size := int(stream.readline().strip() or b"0", 16)) > 0:
        body += stream.read(size)
        stream.readline()
    stream.readline()
    return body


def host_kind(host: str) -> str:
    if host == "management.azure.com":
        return "arm"
    if host.endswith(".blob.core.windows.net"):
        return "blob"
    return "service" if host.endswith((".api.azureml.ms", ".azureml.net")) else host


def forward_to_azurite(azurite_url: str, request: Request) -> Answer:
    """A blob request of the SDK's storage client, sent on over http to Azurite as it came: Azurite takes the
    account from the Host header (its "production-style" URLs), so a Shared Key signature made for Azure's URL
    holds."""
    origin = urlparse(azurite_url)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-length",)}
    headers["Host"] = request.host
    url = f"{origin.scheme}://{origin.netloc}{quote(request.path)}" + (
        f"?{request.raw_query}" if request.raw_query else ""
    )
    answer = requests.request(request.method, url, data=request.body, headers=headers, timeout=60)
    dropped = ("content-length", "transfer-encoding", "connection")
    return answer.status_code, answer.content, {k: v for k, v in answer.headers.items() if k.lower() not in dropped}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
