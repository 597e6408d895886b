"""Faults on demand: 5xx bursts, slow responses, truncated bodies, repeated pages and error
bodies served with 200 (a degraded gateway).

A fault is armed for an endpoint name (glob patterns allowed, e.g. `webex.*`) and fires on the
next `count` matching requests (`count=None`: until cleared), once `after` of them have been
served. Endpoint names are listed in `ENDPOINTS`; the test thread arms faults while the server
thread consumes them, hence the lock.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass

ENDPOINTS = (
    "webex.access_token",
    "webex.cdr_feed", "webex.cdr_stream",
    "webex.people", "webex.locations",
    "webex.recordings", "webex.admin_recordings", "webex.recording_details", "webex.recording_metadata",
    "webex.recording_download",
    "elevenlabs.conversations", "elevenlabs.conversation", "elevenlabs.audio",
    "twilio.messages", "twilio.message",
)

# error_with_200: the provider's error body (a message, no records) sent with status 200
KINDS = ("server_error", "slow", "truncate", "repeat_page", "error_with_200")


@dataclass
class Fault:
    endpoint: str  # glob over ENDPOINTS
    kind: str  # one of KINDS
    count: int | None = 1  # requests left; None = every request until cleared
    status: int = 503  # server_error: the status sent
    delay_seconds: float = 1.0  # slow: real seconds (client timeouts are real, so never scaled)
    keep_fraction: float = 0.5  # truncate: share of the body sent before the cut
    framing: str = "close"  # truncate: "close" = Content-Length of the full body, connection
    #                         closed early (a broken proxy); "complete" = a short body whose
    #                         Content-Length matches it (HTTP is fine, the JSON is not)
    after: int = 0  # matching requests served normally before the fault fires
    retry_after: str | None = None  # server_error: a Retry-After header sent with it

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not any(fnmatch.fnmatchcase(name, self.endpoint) for name in ENDPOINTS):
            raise ValueError(f"fault endpoint {self.endpoint!r} matches none of {', '.join(ENDPOINTS)}")
        if self.framing not in ("close", "complete"):
            raise ValueError(f"truncate framing must be 'close' or 'complete', got {self.framing!r}")
        if self.count is not None and self.count < 1:
            raise ValueError("fault count must be ≥ 1 (or None for every request)")


class FaultPlan:
    def __init__(self, faults: list[Fault] | None = None):
        self._faults: list[Fault] = list(faults or [])
        self._lock = threading.Lock()
        self.fired: dict[tuple[str, str], int] = {}  # (endpoint, kind) → times fired

    def set(self, endpoint: str, kind: str, count: int | None = 1, **options) -> Fault:
        """Arm a fault, replacing one of the same endpoint pattern and kind."""
        fault = Fault(endpoint, kind, count, **options)
        with self._lock:
            self._faults = [f for f in self._faults if (f.endpoint, f.kind) != (endpoint, kind)]
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, endpoint: str, kind: str) -> Fault | None:
        """The fault of this kind for this request, consuming one of its count; None if none."""
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fnmatch.fnmatchcase(endpoint, fault.endpoint):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    self.fired[(endpoint, kind)] = self.fired.get((endpoint, kind), 0) + 1
                    return fault
        return None


def parse_fault_spec(spec: str) -> list[Fault]:
    """Faults from the CLI: comma-separated `ENDPOINT:KIND[:COUNT[:OPTION=VALUE...]]`, COUNT `*`
    for every request. Example: `webex.cdr_feed:server_error:3,twilio.*:slow:*:delay_seconds=0.5`."""
    faults = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        pieces = item.split(":")
        if len(pieces) < 2:
            raise ValueError(f"fault {item!r}: expected ENDPOINT:KIND[:COUNT[:OPTION=VALUE...]]")
        endpoint, kind = pieces[0], pieces[1]
        count: int | None = 1
        if len(pieces) > 2 and pieces[2]:
            count = None if pieces[2] == "*" else int(pieces[2])
        options: dict = {}
        for option in pieces[3:]:
            name, _, value = option.partition("=")
            if name in ("status", "after"):
                options[name] = int(value)
            elif name in ("delay_seconds", "keep_fraction"):
                options[name] = float(value)
            elif name in ("framing", "retry_after"):
                options[name] = value
            else:
                raise ValueError(f"fault {item!r}: unknown option {name!r}")
        faults.append(Fault(endpoint, kind, count, **options))
    return faults
