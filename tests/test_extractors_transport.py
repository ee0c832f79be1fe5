"""The SSRF guard in the connection layer: checked before connecting, pinned when connecting.

A recording network backend stands in for the sockets, and name resolution is scripted,
so nothing here opens a connection or asks a DNS server anything.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import httpx
import pytest

from extractors.transport import AddressRefused, GuardedNetworkBackend, GuardedTransport
from tests.support.smtp_server import _make_certificates


class Recorder(httpcore.AsyncNetworkBackend):
    """Records where connections would go; fails for the addresses in `down`."""

    def __init__(self, down: Iterable[str] = ()) -> None:
        self.connects: list[tuple[str, int]] = []
        self.down = set(down)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if host in self.down:
            raise httpcore.ConnectError(f"{host} is down")
        return httpcore.AsyncMockStream([])

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("never used")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ScriptedDNS(GuardedNetworkBackend):
    """Resolves names from a script: each lookup takes the next answer."""

    def __init__(self, answers: dict[str, list[list[str]]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers = answers
        self.lookups: list[str] = []

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        self.lookups.append(host)
        return self.answers[host].pop(0)


def connect(backend: GuardedNetworkBackend, host: str, port: int = 80) -> None:
    asyncio.run(backend.connect_tcp(host, port, timeout=1.0))


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", "169.254.169.254 is a link-local address"),
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("::1", "::1 is a loopback address"),
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("240.0.0.1", "240.0.0.1 is a private address"),  # reserved, and private to Python
        ("fe80::1", "fe80::1 is a link-local address"),
        ("fd00::1", "fd00::1 is a private address"),
    ],
)
def test_non_public_address_is_refused_before_any_connection(host: str, reason: str) -> None:
    sockets = Recorder()
    with pytest.raises(AddressRefused) as refused:
        connect(GuardedNetworkBackend(inner=sockets), host)
    assert refused.value.reason == reason
    assert sockets.connects == []


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    sockets = Recorder()
    backend = ScriptedDNS({"metadata.example": [["169.254.169.254"]]}, inner=sockets)
    with pytest.raises(AddressRefused, match=r"metadata.example \(169.254.169.254\) is a link"):
        connect(backend, "metadata.example")
    assert sockets.connects == []


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    sockets = Recorder()
    backend = ScriptedDNS({"mixed.example": [["93.184.216.34", "10.1.1.1"]]}, inner=sockets)
    with pytest.raises(AddressRefused):
        connect(backend, "mixed.example")
    assert sockets.connects == []


def test_connection_is_pinned_to_the_checked_address() -> None:
    # DNS rebinding: the first answer is public, a second lookup would say loopback. The
    # connection goes to the address that was checked, and the name is looked up once.
    sockets = Recorder()
    backend = ScriptedDNS({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]}, inner=sockets)
    connect(backend, "rebind.example", 443)
    assert sockets.connects == [("93.184.216.34", 443)]
    assert backend.lookups == ["rebind.example"]


def test_next_address_is_tried_when_one_is_down() -> None:
    sockets = Recorder(down={"2606:2800:220:1::1"})
    backend = ScriptedDNS(
        {"dual.example": [["2606:2800:220:1::1", "93.184.216.34"]]}, inner=sockets
    )
    connect(backend, "dual.example")
    assert sockets.connects == [("2606:2800:220:1::1", 80), ("93.184.216.34", 80)]


def test_admitted_addresses_and_names() -> None:
    sockets = Recorder()
    connect(GuardedNetworkBackend(allowed=frozenset({"127.0.0.1"}), inner=sockets), "127.0.0.1")
    by_address = ScriptedDNS(
        {"localhost": [["127.0.0.1"]]}, allowed=frozenset({"127.0.0.1"}), inner=sockets
    )
    connect(by_address, "localhost")
    # an admitted name is connected to as such (the check is skipped, not the resolver)
    by_name = GuardedNetworkBackend(allowed=frozenset({"newsroom.internal"}), inner=sockets)
    connect(by_name, "newsroom.internal")
    everything = GuardedNetworkBackend(allow_private=True, inner=sockets)
    connect(everything, "10.0.0.1")
    assert sockets.connects == [
        ("127.0.0.1", 80),
        ("127.0.0.1", 80),
        ("newsroom.internal", 80),
        ("10.0.0.1", 80),
    ]


def test_an_admitted_address_does_not_admit_the_rest() -> None:
    sockets = Recorder()
    backend = ScriptedDNS(
        {"two.example": [["127.0.0.1", "10.0.0.1"]]},
        allowed=frozenset({"127.0.0.1"}),
        inner=sockets,
    )
    with pytest.raises(AddressRefused, match=r"two\.example \(10\.0\.0\.1\) is a private"):
        connect(backend, "two.example")
    assert sockets.connects == []


# --- TLS over a pinned connection --------------------------------------------------------


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """An HTTPS server on 127.0.0.1 whose certificate names localhost; (port, CA file)."""
    ca_file, cert_file, key_file = _make_certificates(tmp_path_factory.mktemp("tls"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server.server_address[1], ca_file
    finally:
        server.shutdown()
        server.server_close()


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def https_get(name: str, port: int, ca_file: str) -> tuple[httpx.Response, Recorder]:
    """GET https://name:port/ with `name` resolved (by script) to 127.0.0.1 only."""
    sockets = Recorder()
    real = httpcore.AnyIOBackend()

    class Through(Recorder):
        async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> Any:
            sockets.connects.append((host, port))
            return await real.connect_tcp(host, port, **kwargs)

    backend = ScriptedDNS(
        {name: [["127.0.0.1"]]}, allowed=frozenset({"127.0.0.1"}), inner=Through()
    )
    transport = GuardedTransport(
        backend, limits=httpx.Limits(), ssl_context=ssl.create_default_context(cafile=ca_file)
    )

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            return await client.get(f"https://{name}:{port}/")

    return asyncio.run(scenario()), sockets


def test_tls_checks_the_host_name_while_the_socket_goes_to_the_checked_address(
    tls_site: tuple[int, str],
) -> None:
    port, ca_file = tls_site
    response, sockets = https_get("localhost", port, ca_file)
    assert response.status_code == 200 and response.text == f"hello localhost:{port}"
    assert sockets.connects == [("127.0.0.1", port)]  # pinned, yet verified as localhost


def test_tls_is_not_verified_against_the_address(tls_site: tuple[int, str]) -> None:
    # The certificate covers 127.0.0.1, but the URL says another name: it must not pass
    # (it would if TLS were checked against the pinned address).
    port, ca_file = tls_site
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        https_get("news.example", port, ca_file)
