"""A polite, bounded HTTP client for fetching feeds and pages.

One `Fetcher` holds one `httpx.AsyncClient` (connection pooling across a whole run) and
enforces the limits a pipeline that reads untrusted sites needs: only http(s), no private or
loopback addresses unless admitted, a total deadline per request, a cap on the decompressed
body, a bounded number of redirects (each hop re-checked), and a per-host concurrency limit.

Errors are `FetchError`s carrying a `kind` a caller can branch on and a `reason` a person can
read. Nothing is logged above DEBUG, and URLs are logged redacted (no query, no credentials).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self
from urllib.parse import urljoin, urlsplit

import httpx

from extractors.urls import HTTP_SCHEMES, redact_url
from newswatch.models import Page

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

FetchErrorKind = Literal["timeout", "http_status", "too_large", "refused", "network", "bad_url"]


class FetchError(Exception):
    """A fetch that did not produce a usable response.

    `kind` is for code, `reason` for people; `status` is the HTTP status for kind
    "http_status" (None otherwise). `str()` shows the URL redacted, never its query.
    """

    def __init__(
        self, url: str, reason: str, kind: FetchErrorKind, *, status: int | None = None
    ) -> None:
        super().__init__(url, reason, kind)
        self.url = url
        self.reason = reason
        self.kind: FetchErrorKind = kind
        self.status = status

    def __str__(self) -> str:
        return f"{self.reason} ({redact_url(self.url)})"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits for every request a `Fetcher` makes. Times are seconds."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # Whole request: address check, each redirect hop, headers and body.
    total_timeout_s: float = 30.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host_concurrency: int = 2
    allow_private_addresses: bool = False
    # Host names or IP literals admitted even when they are private/loopback.
    allowed_hosts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchPolicy.{name} must be > 0")
        if self.max_bytes <= 0 or self.per_host_concurrency <= 0 or self.max_redirects < 0:
            raise ValueError(
                "FetchPolicy: max_bytes and per_host_concurrency must be > 0, max_redirects >= 0"
            )
        object.__setattr__(
            self, "allowed_hosts", frozenset(_bare_host(h) for h in self.allowed_hosts)
        )


class Fetcher:
    """Async HTTP fetcher; use as `async with Fetcher(policy) as fetcher:`."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self._client: httpx.AsyncClient | None = None
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Self:
        p = self.policy
        self._client = httpx.AsyncClient(
            headers={"User-Agent": p.user_agent},
            timeout=httpx.Timeout(
                connect=p.connect_timeout,
                read=p.read_timeout,
                write=p.read_timeout,
                pool=p.total_timeout_s,
            ),
            # Redirects are followed by hand so every hop passes the address check.
            follow_redirects=False,
            # No proxies, .netrc credentials or SSL overrides picked up from the environment:
            # what is fetched, and with what, is decided by the policy alone.
            trust_env=False,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> Page:
        """GET `url` (conditionally, if `etag`/`last_modified` are given) and return a Page.

        A 304 gives a Page with status 304 and empty content. Anything else that is not
        2xx raises FetchError(kind="http_status"); see FetchError for the other kinds.
        """
        if self._client is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept

        current = url
        budget = self.policy.total_timeout_s
        loop = asyncio.get_running_loop()
        status = 0
        for hop in range(self.policy.max_redirects + 1):
            host, port = _split(current, original=url)
            # The deadline runs only while a host slot is held: waiting behind other
            # requests to a busy host is politeness, not slowness of this request.
            async with self._slot(host):
                started = loop.time()
                try:
                    async with asyncio.timeout(budget):
                        await self._check_address(url, host, port)
                        result = await self._one_hop(url, current, headers)
                except TimeoutError:
                    raise FetchError(
                        url, f"timed out after {self.policy.total_timeout_s:g}s", "timeout"
                    ) from None
                budget -= loop.time() - started
            if isinstance(result, Page):
                log.debug("fetched %s (%d)", redact_url(current), result.status)
                return result
            status, location = result
            current = urljoin(current, location)
            log.debug("hop %d: %d redirect to %s", hop + 1, status, redact_url(current))
        raise FetchError(
            url,
            f"too many redirects (more than {self.policy.max_redirects})",
            "http_status",
            status=status,
        )

    def _slot(self, host: str) -> asyncio.Semaphore:
        slot = self._host_slots.get(host)
        if slot is None:
            slot = self._host_slots[host] = asyncio.Semaphore(self.policy.per_host_concurrency)
        return slot

    async def _one_hop(
        self, url: str, current: str, headers: dict[str, str]
    ) -> Page | tuple[int, str]:
        """One request: a Page, or (status, Location) for a redirect to follow."""
        assert self._client is not None
        try:
            request = self._client.build_request("GET", current, headers=headers)
            response = await self._client.send(request, stream=True)
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"bad URL: {exc}", "bad_url") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(url, _timeout_reason(exc, self.policy), "timeout") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"connection failed: {_describe(exc)}", "network") from exc
        try:
            status = response.status_code
            if status in _REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(
                        url, f"HTTP {status} without a Location", "http_status", status=status
                    )
                return status, location
            if status == 304:
                return self._page(url, current, response, b"")
            if not 200 <= status < 300:
                raise FetchError(url, f"HTTP {status}", "http_status", status=status)
            body = await self._read_body(url, response)
            return self._page(url, current, response, body)
        finally:
            await response.aclose()

    async def _read_body(self, url: str, response: httpx.Response) -> bytes:
        limit = self.policy.max_bytes
        too_large = FetchError(url, f"body larger than {limit} bytes", "too_large")
        declared = response.headers.get("Content-Length", "")
        # Without Content-Encoding the declared length is the body length: refuse early.
        plain = "Content-Encoding" not in response.headers
        if plain and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            # aiter_bytes yields decoded (decompressed) bytes, so a gzip bomb is counted
            # by what it expands to, not by what crossed the wire.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise FetchError(url, _timeout_reason(exc, self.policy), "timeout") from exc
        except httpx.DecodingError as exc:
            raise FetchError(url, f"could not decode body: {_describe(exc)}", "network") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"connection failed: {_describe(exc)}", "network") from exc
        return b"".join(chunks)

    @staticmethod
    def _page(url: str, current: str, response: httpx.Response, body: bytes) -> Page:
        return Page(
            url=url,
            final_url=current,
            status=response.status_code,
            content=body,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    async def _check_address(self, url: str, host: str, port: int) -> None:
        """Refuse hosts that resolve to non-public addresses unless the policy admits them.

        Every resolved address must be public, since the connection may use any of them.
        (The connection resolves again; pinning it to the checked address, against DNS
        rebinding, is not done here.)
        """
        policy = self.policy
        if policy.allow_private_addresses or host in policy.allowed_hosts:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise FetchError(
                url, f"connection failed: cannot resolve {host}: {exc.strerror}", "network"
            ) from exc
        except UnicodeError as exc:
            raise FetchError(url, f"bad URL: invalid host name {host!r}", "bad_url") from exc
        for *_, sockaddr in infos:
            address = str(sockaddr[0]).split("%", 1)[0]
            if address in policy.allowed_hosts:
                continue
            problem = non_public_reason(ipaddress.ip_address(address))
            if problem:
                shown = address if address == host else f"{host} ({address})"
                raise FetchError(url, f"refused: {shown} is {problem}", "refused")


def non_public_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `ip` must not be fetched from ("a private address", ...), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        # e.g. carrier-grade NAT 100.64/10: neither private nor global.
        (not ip.is_global, "a non-public address"),
    )
    return next((reason for flagged, reason in checks if flagged), None)


def _bare_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _split(current: str, *, original: str) -> tuple[str, int]:
    """(host, port) of a URL about to be requested, or FetchError."""
    try:
        parts = urlsplit(current.strip())
        port = parts.port
    except ValueError as exc:
        raise FetchError(original, f"bad URL: {exc}", "bad_url") from exc
    scheme = parts.scheme.lower()
    if not scheme:
        raise FetchError(original, "bad URL: not an absolute URL", "bad_url")
    if scheme not in HTTP_SCHEMES:
        raise FetchError(original, f"refused: scheme {scheme!r} is not http(s)", "refused")
    host = _bare_host(parts.hostname or "")
    if not host:
        raise FetchError(original, "bad URL: no host", "bad_url")
    return host, port if port is not None else (443 if scheme == "https" else 80)


def _timeout_reason(exc: httpx.TimeoutException, policy: FetchPolicy) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {policy.connect_timeout:g}s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"read timed out after {policy.read_timeout:g}s"
    return f"timed out ({type(exc).__name__})"


def _describe(exc: BaseException) -> str:
    # httpx messages can be empty ("ConnectError('')"); the class name still says something.
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
