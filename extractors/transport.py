"""An httpx transport whose connections go only to checked addresses (the SSRF guard).

The check sits where the socket is opened, in an httpcore network backend: the host is
resolved once, every address is checked, and the connection is made to a checked address
(never resolved a second time), so a DNS answer that changes between check and connect
(DNS rebinding) cannot smuggle in a private address. TLS is unaffected: httpcore starts
TLS with the URL's host name for SNI and certificate checks, not the address.

Every new connection passes here: the first request to a host and every redirect hop to
a new one. A refused address raises `AddressRefused` before any socket is opened.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

import anyio
import httpcore
import httpx

from extractors.addresses import non_public_reason, parse_ip

# httpcore's own alias (httpcore._backends.base.SOCKET_OPTION), spelled out.
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class AddressRefused(Exception):
    """The host resolves to an address the policy does not admit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to the checked address; see the module docstring.

    `allowed` holds host names and IP literals admitted even when not public;
    `allow_private` admits everything (no check at all).
    """

    def __init__(
        self,
        *,
        allowed: frozenset[str] = frozenset(),
        allow_private: bool = False,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allowed = allowed
        self.allow_private = allow_private
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        name = host.strip("[]").rstrip(".").lower()
        if self.allow_private or name in self.allowed:
            targets = [host]
        else:
            targets = await self.checked_addresses(name, port, timeout)
        last: Exception | None = None
        for target in targets:
            try:
                return await self._inner.connect_tcp(
                    target,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc  # try the host's next address, as a browser would
        assert last is not None
        raise last

    async def checked_addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The addresses `host` resolves to, all admitted; else AddressRefused.

        Every address must pass, not only the one used first: a host that lists a
        private address next to a public one is not one to connect to.
        """
        literal = parse_ip(host)
        if literal is not None:
            addresses = [host]
        else:
            addresses = await self._resolve(host, port, timeout)
        for address in addresses:
            if address in self.allowed:
                continue
            ip = parse_ip(address)
            problem = "not an IP address" if ip is None else non_public_reason(ip)
            if problem:
                shown = address if address == host else f"{host} ({address})"
                raise AddressRefused(f"{shown} is {problem}")
        return addresses

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
        except UnicodeError as exc:
            raise httpcore.ConnectError(f"invalid host name {host!r}") from exc
        addresses: list[str] = []
        for *_, sockaddr in infos:
            address = str(sockaddr[0]).split("%", 1)[0]
            if address not in addresses:
                addresses.append(address)
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool built on `GuardedNetworkBackend`.

    `ssl_context` defaults to httpx's (system CAs, certificates verified); tests pass one
    that trusts their own CA.
    """

    def __init__(
        self,
        backend: GuardedNetworkBackend,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(trust_env=False, limits=limits, retries=0)
        # httpx takes no network backend, so its pool is replaced by an equal one that uses
        # ours (same settings as AsyncHTTPTransport's own pool without proxy). The tests
        # assert the guard runs, so an httpx release that renames `_pool` fails loudly.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx.AsyncHTTPTransport has no connection pool to guard")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )
