"""A local HTTP server that speaks Slack's Web API contract for ``chat.postMessage``.

    with SlackApiReceiver(token="xoxb-...", channels={"C0ALERTS"}) as api:
        ...POST api.api_url + "/chat.postMessage"...
        [request] = api.requests              # .headers (lower-cased names), .body
        api.error_next("channel_not_found")  # HTTP 200 {"ok": false, "error": ...}
        api.fail_next(429, retry_after="30") # HTTP 429 + Retry-After, {"ok": false, ...}

Contract, as Slack answers it (HTTP 200 and ``{"ok": false, "error": CODE}`` unless said):
- any path but ``/api/chat.postMessage``: 404 ``unknown_method``;
- no ``Authorization: Bearer`` header: ``not_authed``; another token: ``invalid_auth``;
- body not a JSON object: ``invalid_json``; ``channel`` not in ``channels``:
  ``channel_not_found``; in ``not_joined``: ``not_in_channel``;
- neither ``text`` nor ``blocks``: ``no_text``; ``text`` over 40,000: ``msg_too_long``; blocks
  over Block Kit's limits: ``invalid_blocks``;
- else ``{"ok": true, "channel": ..., "ts": ...}``, and the request is kept in ``requests``.
Scripted answers (``error_next``, ``fail_next``) come before any check and are not kept.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackReceiver
from tests.support.slack_receiver import blocks_ok

TOKEN = "xoxb-1234-5678-NwT3stB0tT0k3n"
TEXT_MAX = 40_000


@dataclass(frozen=True)
class Request:
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]


_Answer = tuple[int, Any, dict[str, str]]  # status, JSON body (str: sent as is), headers


class SlackApiReceiver(LoopbackReceiver):
    """Slack Web API stand-in on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        channels: set[str] | None = None,
        not_joined: set[str] | None = None,
    ) -> None:
        self.token = token
        self.channels = channels if channels is not None else {"C0ALERTS", "#alerts"}
        self.not_joined = not_joined or set()
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._script: deque[_Answer] = deque()
        self.attempts = 0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def api_url(self) -> str:
        """The ``api_url`` to configure (Slack's is https://slack.com/api)."""
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def requests(self) -> list[Request]:
        """Messages posted with ``ok: true``, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def error_next(self, code: str, *, retry_after: str | None = None, **extra: Any) -> None:
        """Answer the next request with HTTP 200 ``{"ok": false, "error": code, **extra}``."""
        self.fail_next(200, retry_after=retry_after, body={"ok": False, "error": code, **extra})

    def fail_next(self, status: int, *, retry_after: str | None = None, body: Any = None) -> None:
        """Answer the next request with ``status`` (429: ``ratelimited``) and ``Retry-After``;
        a ``body`` string is sent as it is (not JSON)."""
        code = "ratelimited" if status == 429 else "internal_error"
        answer = body if body is not None else {"ok": False, "error": code}
        headers = {"Retry-After": retry_after} if retry_after else {}
        with self._lock:
            self._script.append((status, answer, headers))

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> _Answer:
        with self._lock:
            self.attempts += 1
            if self._script:
                return self._script.popleft()
        if path != "/api/chat.postMessage":
            return 404, {"ok": False, "error": "unknown_method"}, {}
        error = self._refusal(headers.get("authorization", ""), raw)
        if error:
            return 200, {"ok": False, "error": error}, {}
        body = json.loads(raw)
        with self._lock:
            self._requests.append(Request(headers, body))
            ts = f"1700000000.{len(self._requests):06d}"
        return 200, {"ok": True, "channel": body["channel"], "ts": ts}, {}

    def _refusal(self, authorization: str, raw: bytes) -> str | None:
        """Slack's error code for this request, or None if it would be posted."""
        if not authorization.startswith("Bearer "):
            return "not_authed"
        if authorization.removeprefix("Bearer ") != self.token:
            return "invalid_auth"
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "invalid_json"
        if not isinstance(body, dict):
            return "invalid_json"
        channel = body.get("channel")
        if channel not in self.channels:
            return "channel_not_found"
        if channel in self.not_joined:
            return "not_in_channel"
        if not body.get("text") and not body.get("blocks"):
            return "no_text"
        if len(body.get("text") or "") > TEXT_MAX:
            return "msg_too_long"
        if not blocks_ok(body.get("blocks")):
            return "invalid_blocks"
        return None


def _handler_for(receiver: SlackApiReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra = receiver._answer(self.path, headers, raw)
            data = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

    return Handler
