"""A local HTTP server that speaks Slack's incoming-webhook contract.

    with SlackReceiver() as slack:
        post(slack.url, payload)            # 200 "ok"; slack.payloads == [payload]
        slack.fail_next(2, status=429, retry_after=7)   # next two: 429 + Retry-After: 7
        slack.fail_next(1, status=500)                  # then one 500

Contract, as Slack answers it:
- POST to ``url`` (its path acts as the secret token); any other path: 404 ``no_service``.
- Body not JSON (or not an object): 400 ``invalid_payload``; neither ``text`` nor
  ``blocks``: 400 ``no_text``; blocks over Slack's limits (50 blocks, header text 150,
  section text 3000, context element 2000): 400 ``invalid_blocks``.
- Otherwise 200 ``ok``, and the parsed payload is appended to ``payloads``.
Scripted failures (``fail_next``) answer before the payload is looked at and are not
recorded in ``payloads``; every request that reached the webhook path counts in ``attempts``.
``drop_next`` closes the connection without an answer; ``stall_next`` accepts the payload
(recorded) and then holds the answer back, so a client can be killed while it waits: the
message arrived but the sender never learnt it. ``pass_next`` answers normally (to place a
stall or a failure after a number of good requests); ``latency_s`` delays every answer.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackReceiver

DEFAULT_PATH = "/services/T0NEWSWATCH/B0TEST/s3cr3tW3bh00kT0k3n"


@dataclass(frozen=True)
class _Scripted:
    status: int
    body: str
    retry_after: str | None
    action: str = "fail"  # fail, drop, stall, pass
    stall_s: float = 0.0


class SlackReceiver(LoopbackReceiver):
    """Slack incoming-webhook stand-in on 127.0.0.1 (see the module docstring)."""

    def __init__(self, path: str = DEFAULT_PATH) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._payloads: list[dict[str, Any]] = []
        self._script: deque[_Scripted] = deque()
        self._attempts = 0
        self.latency_s = 0.0
        self.stalled = threading.Event()  # set when a stalled request has been received
        self._release = threading.Event()  # ends every stall (on stop)

    # --- lifecycle ----------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def start(self) -> SlackReceiver:
        return self.__enter__()

    def stop(self) -> None:
        self._release.set()  # a stalled answer must not hold the server's shutdown
        super().stop()

    # --- what tests use -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The webhook URL to configure (treat it as a secret, like a real one)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def payloads(self) -> list[dict[str, Any]]:
        """Payloads accepted with 200 "ok", oldest first (a copy)."""
        with self._lock:
            return list(self._payloads)

    @property
    def attempts(self) -> int:
        """Requests that reached the webhook path, accepted or not."""
        with self._lock:
            return self._attempts

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        retry_after: float | str | None = None,
        body: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests with ``status`` (429 gets ``rate_limited``)."""
        text = body if body is not None else _default_body(status)
        after = None if retry_after is None else str(retry_after)
        with self._lock:
            self._script.extend(_Scripted(status, text, after) for _ in range(count))

    def drop_next(self, count: int = 1) -> None:
        """Close the connection of the next ``count`` requests without answering."""
        with self._lock:
            self._script.extend(_Scripted(0, "", None, "drop") for _ in range(count))

    def stall_next(self, count: int = 1, *, seconds: float = 60.0) -> None:
        """Record the next payloads as received, then wait ``seconds`` before answering."""
        with self._lock:
            self._script.extend(_Scripted(200, "ok", None, "stall", seconds) for _ in range(count))

    def pass_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests normally (a place-holder in the script)."""
        with self._lock:
            self._script.extend(_Scripted(200, "ok", None, "pass") for _ in range(count))

    def rate_limit_next(self, count: int = 1, *, retry_after: float | str = 1) -> None:
        self.fail_next(count, status=429, retry_after=retry_after)

    def clear(self) -> None:
        with self._lock:
            self._payloads.clear()
            self._script.clear()
            self._attempts = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` payloads arrived; return them (AssertionError if not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.payloads
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} Slack payload(s), got {len(self.payloads)}")

    # --- called by the handler ----------------------------------------------------------

    def _answer(self, path: str, body: bytes) -> tuple[int, str, dict[str, str]] | None:
        """Status, body and headers to answer with; None to drop the connection."""
        if path != self.path:
            return 404, "no_service", {}
        if self.latency_s:
            time.sleep(self.latency_s)
        stall = 0.0
        with self._lock:
            self._attempts += 1
            if self._script:
                step = self._script.popleft()
                if step.action == "drop":
                    return None
                if step.action == "stall":
                    stall = step.stall_s
                elif step.action == "fail":
                    headers = {"Retry-After": step.retry_after} if step.retry_after else {}
                    return step.status, step.body, headers
        answer = self._accept(body)
        if stall and answer[0] == 200:
            self.stalled.set()
            self._release.wait(stall)
        return answer

    def _accept(self, body: bytes) -> tuple[int, str, dict[str, str]]:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, "invalid_payload", {}
        if not isinstance(payload, dict):
            return 400, "invalid_payload", {}
        if not payload.get("text") and not payload.get("blocks"):
            return 400, "no_text", {}
        if not blocks_ok(payload.get("blocks")):
            return 400, "invalid_blocks", {}
        with self._lock:
            self._payloads.append(payload)
        return 200, "ok", {}


def _default_body(status: int) -> str:
    return {429: "rate_limited", 400: "invalid_payload", 403: "action_prohibited"}.get(
        status, "internal_error" if status >= 500 else "error"
    )


def blocks_ok(blocks: Any) -> bool:
    """The Block Kit limits Slack enforces that a renderer can get wrong."""
    if blocks is None:
        return True
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    for block in blocks:
        if not isinstance(block, dict):
            return False
        kind = block.get("type")
        if kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                return False
        elif kind == "section":
            if not 0 < len(block.get("text", {}).get("text", "")) <= 3000:
                return False
        elif kind == "context":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 10:
                return False
            if any(len(e.get("text", "")) > 2000 for e in elements):
                return False
    return True


def _handler_for(receiver: SlackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            answer = receiver._answer(self.path, body)
            if answer is None:  # drop: no status line at all
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, text, headers = answer
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            try:
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client is gone (killed mid-request): nothing to tell it
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests; and a real webhook path is a secret not to print

    return Handler
