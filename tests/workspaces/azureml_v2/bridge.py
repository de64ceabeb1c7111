"""The SDK v2 fake, reached from another process: a flow run by Prefect's worker, or its cancellation hook, runs in a
process of its own, while the fake (an azure-core transport: fake_service.py) lives in the test's.

- `Bridge(fake)`, in the test's process: an HTTP server on 127.0.0.1 that hands each request it is sent to the
  fake's own `send` (faults, recordings and runs as in-process) and sends back the answer's status, headers and
  body, or that the connection was reset;
- `BridgeTransport(address)`, in the other process: an azure-core transport that sends each request of the SDK
  there and gives the answer back as azure-core's RequestsTransport would (a reset raised as it raises one).

Only the request's method, URL, headers and body cross (bodies whole: the SDK's uploads here are small); the SDK
in the other process builds, retries, polls and parses as it does against Azure.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from azure.core.pipeline._tools import is_rest
from azure.core.pipeline.transport import HttpRequest as PipelineRequest
from azure.core.rest import HttpRequest as RestRequest

from tests.workspaces.azureml_v2.fake_service import NothingToOpen, connection_reset, transport_response


def _body_of(request) -> bytes:
    body = request.content if is_rest(request) else request.body
    if body is None:
        return b""
    if hasattr(body, "read"):
        return body.read()
    return body.encode() if isinstance(body, str) else bytes(body)


class Bridge:
    def __init__(self, fake):
        self.fake = fake
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = bridge.answer(asked)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, asked: dict) -> dict:
        body = base64.b64decode(asked["body"]) or None
        if asked["rest"]:
            request = RestRequest(asked["method"], asked["url"], headers=asked["headers"], content=body)
        else:
            request = PipelineRequest(asked["method"], asked["url"], headers=asked["headers"])
            if body is not None:
                request.set_bytes_body(body)
        try:
            response = self.fake.send(request)
        except Exception as exc:
            return {"reset": type(exc).__name__}
        content = response.read() if is_rest(request) else response.body()
        headers = dict(response.headers)
        return {"status": response.status_code, "headers": headers, "body": base64.b64encode(content).decode()}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BridgeTransport(NothingToOpen):
    def __init__(self, address: str):
        self.url, self.session = f"http://{address}/", requests.Session()

    def send(self, request, **kwargs):
        asked = {
            "rest": is_rest(request),
            "method": request.method,
            "url": request.url,
            "headers": dict(request.headers),
            "body": base64.b64encode(_body_of(request)).decode(),
        }
        answer = self.session.post(self.url, json=asked, timeout=600).json()
        if "reset" in answer:
            raise connection_reset()
        return transport_response(request, answer["status"], base64.b64decode(answer["body"]), answer["headers"])
