"""What Azure does to a request, decided in one place for both HTTP fakes (the SDK v1 fake's server, the SDK v2
fake's transport): each asks `Faults.decide(method, host, path)` before it acts on a request, and does what the
answer says.

The kinds, and how each reaches the SDK:
- "status": an HTTP error answered before the service acts (429 with Retry-After, 500, 503, or any given one);
- "reset": the connection is reset before the request arrives: the service never acted;
- "lost": the service acts on the request, then the connection is reset: its answer is lost. A retry of it meets
  what the service answers to a repeated request (a job PUT with the same name, a run POST with the same id);
- "cut" (v1): the answer breaks off half way; "hang" (v1): the answer comes `seconds` late.

Two modes: targeted (`fail`: the next `times` requests whose method and path match), and seeded random
(`at_random(rate, seed)`: every request, each with probability `rate`, one of RANDOM_KINDS), so that a failing
seed is a failure that can be replayed. `injected` records what was done to which request.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The faults Azure is known to give any request: throttling with a Retry-After, a server error, an unavailable
# front end, and a connection dropped before or after the service acted.
RANDOM_KINDS: tuple[tuple[str, int], ...] = (
    ("status", 429),
    ("status", 500),
    ("status", 503),
    ("reset", 0),
    ("lost", 0),
)


@dataclass
class Fault:
    method: str
    path_part: str
    kind: str  # "status", "reset", "lost", "cut", "hang"
    times: int
    status: int = 0
    body: Any = None  # None: the fake's own error body for `status` on that host
    headers: dict = field(default_factory=dict)
    seconds: float = 0.0  # "hang": how long the answer is held back
    spent: Callable[[], None] | None = None  # called once its last time is given: what a test holds until then


class Faults:
    def __init__(self) -> None:
        self.targeted: list[Fault] = []
        self.rate = 0.0
        self.random: random.Random | None = None
        self.spared: tuple[str, ...] = ()  # hosts random faults leave alone
        self.injected: list[tuple[str, str, str, int]] = []  # (method, path, kind, status) of each fault given
        self.lock = threading.Lock()

    def fail(
        self,
        method: str,
        path_part: str,
        kind: str = "status",
        status: int = 0,
        times: int = 1,
        body: Any = None,
        headers: dict | None = None,
        seconds: float = 0.0,
        spent: Callable[[], None] | None = None,
    ) -> None:
        """The next `times` requests of `method` whose path holds `path_part` get a fault of `kind`; `spent` is
        called when the last of them is given (a test releases what it held until then: never a race)."""
        with self.lock:
            self.targeted.append(Fault(method, path_part, kind, times, status, body, headers or {}, seconds, spent))

    def at_random(self, rate: float, seed: int, spared: tuple[str, ...] = ()) -> None:
        """From now on, every request (but those to `spared` hosts) gets one of RANDOM_KINDS with probability
        `rate`, drawn from a generator seeded with `seed`."""
        with self.lock:
            self.rate, self.random, self.spared = rate, random.Random(seed), spared

    def stop_random(self) -> None:
        with self.lock:
            self.rate = 0.0

    def decide(self, method: str, host: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.targeted:
                if fault.times and fault.method == method and fault.path_part in path:
                    fault.times -= 1
                    self.injected.append((method, path, fault.kind, fault.status))
                    if not fault.times and fault.spent is not None:
                        fault.spent()
                    return fault
            if self.random is None or not self.rate or any(h in host for h in self.spared):
                return None
            if self.random.random() >= self.rate:
                return None
            kind, status = self.random.choice(RANDOM_KINDS)
            self.injected.append((method, path, kind, status))
            headers = {"Retry-After": "1"} if status == 429 else {}
            return Fault(method, path, kind, 1, status, None, headers)

    def clear(self) -> None:
        """No more targeted faults: the service is well again."""
        with self.lock:
            self.targeted.clear()

    def count(self, kind: str) -> int:
        return sum(k == kind for _, _, k, _ in self.injected)
