"""Fetcher against a real HTTP server on 127.0.0.1 that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

import pytest

from extractors.http import Fetcher, FetchError, FetchPolicy, non_public_reason

T = TypeVar("T")
CAP = 10_000  # max_bytes in these tests
LOCAL = frozenset({"127.0.0.1"})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    active: ClassVar[int] = 0
    peak: ClassVar[int] = 0
    lock: ClassVar[threading.Lock] = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/etag":
            if self.headers.get("If-None-Match") == '"v1"':
                self.send(304, ETag='"v1"')
            else:
                self.send(
                    200,
                    b"<html>story</html>",
                    ETag='"v1"',
                    Last_Modified="Wed, 01 May 2024 08:00:00 GMT",
                    Content_Type="text/html; charset=utf-8",
                )
        elif path == "/modified":
            if self.headers.get("If-Modified-Since") == "Wed, 01 May 2024 08:00:00 GMT":
                self.send(304)
            else:
                self.send(200, b"fresh", Last_Modified="Wed, 01 May 2024 08:00:00 GMT")
        elif path == "/echo":
            echoed = f"{self.headers.get('User-Agent')}|{self.headers.get('Accept')}"
            self.send(200, echoed.encode())
        elif path == "/redirect":
            self.send(302, Location="/hop")
        elif path == "/hop":
            self.send(301, Location=f"http://{self.headers['Host']}/final")
        elif path == "/final":
            self.send(200, b"arrived")
        elif path.startswith("/loop"):
            self.send(302, Location="/loop-b" if path == "/loop-a" else "/loop-a")
        elif path == "/to-private":
            self.send(302, Location="http://10.0.0.1/admin")
        elif path == "/to-file":
            self.send(307, Location="file:///etc/passwd")
        elif path == "/no-location":
            self.send(302)
        elif path == "/big":
            self.send(200, b"x" * (CAP + 1))
        elif path == "/big-stream":  # no Content-Length: read until close
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"y" * 1000)
            self.close_connection = True
        elif path == "/gzip-bomb":
            self.send(200, gzip.compress(b"\0" * (CAP * 50)), Content_Encoding="gzip")
        elif path == "/gzip-ok":
            self.send(200, gzip.compress(b"z" * (CAP // 2)), Content_Encoding="gzip")
        elif path == "/slow-headers":
            time.sleep(1.5)
            self.send(200, b"late")
        elif path == "/slow-body":  # each chunk fast enough for read_timeout, total too slow
            self.send_response(200)
            self.send_header("Content-Length", "30")
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b"s")
                self.wfile.flush()
                time.sleep(0.05)
        elif path == "/error":
            self.send(500, b"boom")
        elif path == "/unavailable":
            self.send(503, b"later")
        elif path == "/concurrent":
            with Handler.lock:
                Handler.active += 1
                Handler.peak = max(Handler.peak, Handler.active)
            time.sleep(0.2)
            with Handler.lock:
                Handler.active -= 1
            self.send(200, b"ok")
        else:
            self.send(404, b"missing")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up on purpose (caps, timeouts)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def local_policy(**overrides: Any) -> FetchPolicy:
    settings: dict[str, Any] = {
        "allowed_hosts": LOCAL,
        "max_bytes": CAP,
        "connect_timeout": 2,
        "read_timeout": 2,
        "total_timeout_s": 5,
        "per_host_min_delay_s": 0,
        "backoff_base_s": 0.01,
    }
    settings.update(overrides)
    return FetchPolicy(**settings)


async def fetch(url: str, policy: FetchPolicy | None = None, **kwargs: Any) -> Any:
    async with Fetcher(policy or local_policy()) as fetcher:
        return await fetcher.get(url, **kwargs)


def fetch_error(url: str, policy: FetchPolicy | None = None, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        run(fetch(url, policy, **kwargs))
    return caught.value


def test_200_with_etag_then_304_on_conditional_get(base: str) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with Fetcher(local_policy()) as fetcher:
            first = await fetcher.get(f"{base}/etag")
            second = await fetcher.get(f"{base}/etag", etag=first.etag)
            return first, second

    first, second = run(scenario())
    assert first.status == 200 and not first.not_modified
    assert first.content == b"<html>story</html>"
    assert first.etag == '"v1"'
    assert first.last_modified == "Wed, 01 May 2024 08:00:00 GMT"
    assert first.content_type == "text/html; charset=utf-8"
    assert second.status == 304 and second.not_modified
    assert second.content == b""
    assert second.etag == '"v1"'


def test_if_modified_since(base: str) -> None:
    page = run(fetch(f"{base}/modified", last_modified="Wed, 01 May 2024 08:00:00 GMT"))
    assert page.status == 304


def test_user_agent_and_accept_are_sent(base: str) -> None:
    page = run(fetch(f"{base}/echo", accept="application/rss+xml"))
    assert page.content == b"newswatch/0.1 (+https://github.com/newswatch/newswatch)|" + (
        b"application/rss+xml"
    )


def test_redirects_are_followed(base: str) -> None:
    page = run(fetch(f"{base}/redirect"))
    assert page.status == 200
    assert page.content == b"arrived"
    assert page.url == f"{base}/redirect"
    assert page.final_url == f"{base}/final"


def test_redirect_loop_is_capped(base: str) -> None:
    error = fetch_error(f"{base}/loop-a", local_policy(max_redirects=3))
    assert error.kind == "http_status"
    assert error.reason == "too many redirects (more than 3)"
    assert error.status == 302


def test_redirect_without_location(base: str) -> None:
    error = fetch_error(f"{base}/no-location")
    assert (error.kind, error.status) == ("http_status", 302)


def test_redirect_to_private_address_is_refused(base: str) -> None:
    error = fetch_error(f"{base}/to-private")
    assert error.kind == "refused"
    assert error.reason == "refused: 10.0.0.1 is a private address"


def test_redirect_to_other_scheme_is_refused(base: str) -> None:
    error = fetch_error(f"{base}/to-file")
    assert error.kind == "refused"
    assert "scheme 'file' is not http(s)" in error.reason


def test_body_over_cap_with_content_length(base: str) -> None:
    error = fetch_error(f"{base}/big")
    assert error.kind == "too_large"
    assert error.reason == f"body larger than {CAP} bytes"


def test_body_over_cap_while_streaming(base: str) -> None:
    assert fetch_error(f"{base}/big-stream").kind == "too_large"


def test_gzip_body_is_capped_by_decompressed_size(base: str) -> None:
    error = fetch_error(f"{base}/gzip-bomb")
    assert error.kind == "too_large"
    ok = run(fetch(f"{base}/gzip-ok"))
    assert ok.content == b"z" * (CAP // 2)


def test_slow_headers_time_out(base: str) -> None:
    error = fetch_error(f"{base}/slow-headers", local_policy(total_timeout_s=0.3))
    assert error.kind == "timeout"
    assert error.reason == "timed out after 0.3s"


def test_slow_response_hits_read_timeout(base: str) -> None:
    error = fetch_error(f"{base}/slow-headers", local_policy(read_timeout=0.2))
    assert error.kind == "timeout"
    assert error.reason == "read timed out after 0.2s"


def test_trickling_body_hits_total_timeout(base: str) -> None:
    # every byte arrives well within read_timeout; only the total deadline stops it
    error = fetch_error(f"{base}/slow-body", local_policy(read_timeout=1, total_timeout_s=0.5))
    assert error.kind == "timeout"
    assert error.reason == "timed out after 0.5s"


@pytest.mark.parametrize(("path", "status"), [("/error", 500), ("/unavailable", 503)])
def test_error_status(base: str, path: str, status: int) -> None:
    error = fetch_error(f"{base}{path}")
    assert (error.kind, error.status, error.reason) == ("http_status", status, f"HTTP {status}")


def test_loopback_refused_unless_allowed(base: str) -> None:
    error = fetch_error(f"{base}/etag", FetchPolicy(per_host_min_delay_s=0))
    assert error.kind == "refused"
    assert error.reason == "refused: 127.0.0.1 is a loopback address"
    admitted = FetchPolicy(allowed_hosts=LOCAL, per_host_min_delay_s=0)
    assert run(fetch(f"{base}/etag", admitted)).status == 200
    everything = FetchPolicy(allow_private_addresses=True, per_host_min_delay_s=0)
    assert run(fetch(f"{base}/etag", everything)).status == 200


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.1.2.3/", "refused: 10.1.2.3 is a private address"),
        ("http://192.168.1.1:8080/", "refused: 192.168.1.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data", "refused: 169.254.169.254 is a link-local"),
        ("http://0.0.0.0/", "refused: 0.0.0.0 is an unspecified address"),
        ("http://[::1]/", "refused: ::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "refused: ::ffff:127.0.0.1 is a loopback address"),
        ("http://2130706433/", "refused: 2130706433 (127.0.0.1) is a loopback address"),
        ("http://100.64.0.1/", "refused: 100.64.0.1 is a non-public address"),
    ],
)
def test_non_public_addresses_are_refused_before_connecting(url: str, reason: str) -> None:
    error = fetch_error(url, FetchPolicy(per_host_min_delay_s=0))
    assert error.kind == "refused"
    assert error.reason.startswith(reason)


@pytest.mark.parametrize(
    ("url", "kind", "reason"),
    [
        ("ftp://127.0.0.1/file", "refused", "refused: scheme 'ftp' is not http(s)"),
        ("file:///etc/passwd", "refused", "refused: scheme 'file' is not http(s)"),
        ("/relative/path", "bad_url", "bad URL: not an absolute URL"),
        ("http:///no-host", "bad_url", "bad URL: no host"),
        ("http://127.0.0.1:99999/", "bad_url", "bad URL: "),
    ],
)
def test_bad_and_non_http_urls(url: str, kind: str, reason: str) -> None:
    error = fetch_error(url, FetchPolicy(allowed_hosts=LOCAL))
    assert error.kind == kind
    assert error.reason.startswith(reason)


def test_connection_refused_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/", local_policy())
    assert error.kind == "network"
    assert error.reason.startswith("connection failed: ")


def test_per_host_concurrency_is_bounded(base: str) -> None:
    Handler.peak = 0

    async def scenario() -> list[Any]:
        async with Fetcher(local_policy(per_host_concurrency=2)) as fetcher:
            return await asyncio.gather(*(fetcher.get(f"{base}/concurrent") for _ in range(6)))

    started = time.monotonic()
    pages = run(scenario())
    assert [p.status for p in pages] == [200] * 6
    assert Handler.peak == 2
    assert time.monotonic() - started >= 0.55  # three waves of 0.2 s


def test_error_text_never_shows_the_query(base: str) -> None:
    error = fetch_error(f"{base}/error?token=s3cret&user=me")
    assert "s3cret" not in str(error)
    assert str(error) == f"HTTP 500 ({base}/error?…)"


def test_fetcher_requires_context_manager() -> None:
    with pytest.raises(RuntimeError):
        run(Fetcher().get("http://127.0.0.1/"))


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        FetchPolicy(max_bytes=0)
    with pytest.raises(ValueError):
        FetchPolicy(total_timeout_s=0)
    assert FetchPolicy(allowed_hosts=frozenset({"[::1]", "LOCALHOST."})).allowed_hosts == {
        "::1",
        "localhost",
    }


def test_non_public_reason_for_public_address() -> None:
    import ipaddress

    assert non_public_reason(ipaddress.ip_address("93.184.216.34")) is None
    assert non_public_reason(ipaddress.ip_address("2606:4700::1111")) is None
