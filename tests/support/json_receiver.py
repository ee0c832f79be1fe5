"""A local HTTP endpoint that records JSON POSTs: the far end of the ``webhook`` channel and
of Apprise's ``json://`` URLs in tests.

    with JsonReceiver() as hook:
        ...POST to hook.url...
        [request] = hook.wait_for(1)      # request.path, request.headers, request.body
        hook.answer_next(503, retry_after="30")   # the next request gets 503 + Retry-After
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackReceiver


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any


class JsonReceiver(LoopbackReceiver):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._script: deque[tuple[int, str | None]] = deque()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/newswatch-s3cr3t"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def answer_next(self, status: int, *, retry_after: str | None = None) -> None:
        with self._lock:
            self._script.append((status, retry_after))

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} request(s), got {len(self.received)}")

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, str | None]:
        with self._lock:
            if self._script:
                return self._script.popleft()
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, None
        with self._lock:
            self._received.append(Received(path, headers, body))
        return 200, None


def _handler_for(receiver: JsonReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, retry_after = receiver._answer(self.path, headers, raw)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            if retry_after:
                self.send_header("Retry-After", retry_after)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
