"""A real HTTP server on 127.0.0.1 serving a folder, with faults on cue: the download code runs for real."""

import contextlib
import http.server
import threading
import time
from pathlib import Path


class MirrorServer:
    """Serves `folder`; `faults[file name]` is one of 'http500', 'http429', 'http404', 'truncate', 'corrupt',
    'slow'. `requests` lists the paths asked for, in order."""

    def __init__(self, folder: Path, slow_seconds: float = 3.0):
        self.folder, self.slow_seconds = Path(folder), slow_seconds
        self.faults: dict[str, str] = {}
        self.requests: list[str] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "MirrorServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                mirror.requests.append(name)
                fault = mirror.faults.get(name)
                if fault in ("http500", "http429", "http404"):
                    self.send_error(int(fault[4:]))
                    return
                path = mirror.folder / name
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                if fault == "slow":
                    time.sleep(mirror.slow_seconds)
                if fault == "corrupt":
                    body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # the client may have given up (a time-out): its business
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)

        return Handler
