"""A polite, bounded HTTP client for fetching feeds and pages from sites we do not control.

One `Fetcher` holds one `httpx.AsyncClient` (connection pooling across a whole run) and
enforces what a pipeline reading untrusted sites on a schedule needs:

- safety: only http(s); every connection goes to an address checked at connect time and
  pinned (`transport`): no private, loopback, link-local, multicast or reserved address
  unless the policy admits it; each redirect hop re-checked; a redirect cap;
- limits: connect, read and total deadlines; the body capped after decompression, which is
  done here, bounded per network chunk (`bodies`); only HTML, XML/feed, text and gzip
  media types read;
- politeness (`politeness`, `robots`): robots.txt per origin, fetched once per Fetcher;
  per-host concurrency and minimum spacing between request starts; a descriptive
  User-Agent; conditional GET; Retry-After honoured for the whole host; a few retries with
  exponential backoff and jitter, within a bounded wait; a host that keeps failing is
  given up for the rest of the run.

Errors are `FetchError`s (`errors`) with a `kind` for code and a `reason` for people. Nothing
is logged above DEBUG, and URLs are logged redacted (no query, no credentials).
"""

from __future__ import annotations

import asyncio
import logging
import random
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

from extractors.addresses import non_public_reason
from extractors.bodies import (
    ACCEPT_ENCODING,
    DEFAULT_ACCEPT,
    BoundedDecoder,
    CorruptEncoding,
    UnsupportedEncoding,
    unsupported_media_type,
)
from extractors.errors import FetchError, FetchErrorKind, RobotsUnreachable, is_transient
from extractors.policy import DEFAULT_USER_AGENT, FetchPolicy, bare_host
from extractors.politeness import HostGate, backoff_delay, parse_retry_after
from extractors.robots import ROBOTS_MAX_BYTES, RobotsVerdict
from extractors.transport import AddressRefused, GuardedNetworkBackend, GuardedTransport
from extractors.urls import HTTP_SCHEMES, redact_url
from newswatch.models import Page

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchError",
    "FetchErrorKind",
    "FetchPolicy",
    "Fetcher",
    "non_public_reason",
]

log = logging.getLogger(__name__)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The kinds that show the host answered: a failure streak ends there.
_HOST_ANSWERED: frozenset[FetchErrorKind] = frozenset(
    {"http_status", "too_large", "content_type", "parse"}
)


class Fetcher:
    """Async HTTP fetcher; use as `async with Fetcher(policy) as fetcher:`.

    `rng` draws the backoff jitter (tests may pass a seeded one).
    """

    def __init__(self, policy: FetchPolicy | None = None, *, rng: random.Random | None = None):
        self.policy = policy or FetchPolicy()
        self._client: httpx.AsyncClient | None = None
        self._gates: dict[str, HostGate] = {}
        self._robots: dict[str, RobotsVerdict] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._rng = rng or random.Random()

    async def __aenter__(self) -> Self:
        p = self.policy
        backend = GuardedNetworkBackend(
            allowed=p.allowed_hosts, allow_private=p.allow_private_addresses
        )
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(backend, limits=httpx.Limits()),
            headers={"User-Agent": p.agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(
                connect=p.connect_timeout,
                read=p.read_timeout,
                write=p.read_timeout,
                pool=p.total_timeout_s,
            ),
            # Redirects are followed by hand so every hop passes robots.txt and the guard.
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
        2xx raises FetchError(kind="http_status"); see `errors` for the other kinds.
        `accept` is the Accept header (default: HTML and feed types; see
        `bodies.accept_for_kind`); which media types are read does not depend on it.
        """
        if self._client is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        headers = {"Accept": accept or DEFAULT_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        gate = self._gate(*_split(url, original=url))
        gate.refuse_if_failing(url, limit=self.policy.host_failure_limit)
        try:
            page = await self._with_retries(url, headers, limit=self.policy.max_bytes)
        except FetchError as error:
            if is_transient(error):
                gate.record(error)
            elif error.kind in _HOST_ANSWERED:
                gate.record(None)
            raise
        gate.record(None)
        return page

    async def _with_retries(
        self,
        url: str,
        headers: dict[str, str],
        *,
        limit: int,
        truncate: bool = False,
        obey_robots: bool = True,
        check_type: bool = True,
    ) -> Page:
        """`_follow`, tried again after transient errors (see FetchPolicy)."""
        waited = 0.0
        attempt = 0
        while True:
            try:
                return await self._follow(
                    url,
                    headers,
                    limit=limit,
                    truncate=truncate,
                    obey_robots=obey_robots,
                    check_type=check_type,
                )
            except FetchError as error:
                delay = self._retry_delay(error, attempt, waited)
                if delay is None:
                    raise
                log.debug("retrying %s in %.2fs: %s", redact_url(url), delay, error.reason)
                waited += delay
                if error.retry_after is None:
                    await asyncio.sleep(delay)
                # else the host gate holds every request to the host for the pause.
                attempt += 1

    def _retry_delay(self, error: FetchError, attempt: int, waited: float) -> float | None:
        """How long to wait before trying again, or None not to retry."""
        p = self.policy
        # A timeout already cost the whole deadline: the poll-level retry and the next run
        # try again, not this request.
        if attempt >= p.max_retries or error.kind == "timeout" or not is_transient(error):
            return None
        if isinstance(error, RobotsUnreachable):
            return None
        room = p.max_retry_wait_s - waited
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= room else None
        delay = backoff_delay(attempt, base=p.backoff_base_s, cap=p.backoff_max_s, rng=self._rng)
        return delay if delay <= room else None

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        *,
        limit: int,
        truncate: bool = False,
        obey_robots: bool = True,
        check_type: bool = True,
    ) -> Page:
        """One attempt: the request and its redirects, each hop under robots and the gate."""
        p = self.policy
        loop = asyncio.get_running_loop()
        current = url
        budget = p.total_timeout_s
        status = 0
        for hop in range(p.max_redirects + 1):
            host, port = _split(current, original=url)
            if obey_robots and p.respect_robots:
                await self._obey_robots(url, current)
            gate = self._gate(host, port)
            # The deadline runs only inside the gate: waiting for a turn at a busy or
            # paused host is politeness, not slowness of this request.
            async with gate.turn(url, max_pause=p.max_retry_wait_s):
                started = loop.time()
                try:
                    async with asyncio.timeout(budget):
                        result = await self._one_hop(
                            url, current, headers, limit, truncate=truncate, check=check_type
                        )
                except TimeoutError:
                    raise FetchError(
                        url, f"timed out after {p.total_timeout_s:g}s", "timeout"
                    ) from None
                except FetchError as error:
                    if error.retry_after is not None:
                        gate.pause(error.retry_after, error.status)
                    raise
                budget -= loop.time() - started
            if isinstance(result, Page):
                log.debug("fetched %s (%d)", redact_url(current), result.status)
                return result
            status, location = result
            current = urljoin(current, location)
            log.debug("hop %d: %d redirect to %s", hop + 1, status, redact_url(current))
        raise FetchError(
            url, f"too many redirects (more than {p.max_redirects})", "http_status", status=status
        )

    def _gate(self, host: str, port: int) -> HostGate:
        # Per host and port, like robots.txt's scope (which also lets tests stand up
        # several independent sites on 127.0.0.1).
        key = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        gate = self._gates.get(key)
        if gate is None:
            p = self.policy
            gate = self._gates[key] = HostGate(
                key, concurrency=p.per_host_concurrency, min_delay=p.per_host_min_delay_s
            )
        return gate

    async def _obey_robots(self, url: str, current: str) -> None:
        """FetchError(kind "robots") unless robots.txt lets our token fetch `current`."""
        origin = _origin(current)
        verdict = self._robots.get(origin)
        if verdict is None:
            # One fetch per origin, however many requests wait for it.
            async with self._robots_locks.setdefault(origin, asyncio.Lock()):
                verdict = self._robots.get(origin)
                if verdict is None:
                    verdict = self._robots[origin] = await self._fetch_robots(origin)
                    self._apply_crawl_delay(current, verdict)
        refusal = verdict.refusal(current, self.policy.robots_token)
        if refusal is None:
            return
        cause = verdict.unreachable
        if cause is None:
            raise FetchError(url, refusal, "robots")
        raise RobotsUnreachable(
            url, refusal, cause.kind, status=cause.status, retry_after=cause.retry_after
        )

    async def _fetch_robots(self, origin: str) -> RobotsVerdict:
        """The origin's robots.txt, read as RFC 9309 says (see `robots`)."""
        try:
            page = await self._with_retries(
                f"{origin}/robots.txt",
                {"Accept": "text/plain, */*;q=0.1"},
                limit=ROBOTS_MAX_BYTES,
                truncate=True,
                obey_robots=False,
                check_type=False,
            )
        except FetchError as error:
            log.debug("robots.txt of %s: %s", origin, error.reason)
            status = error.status or 0
            if error.kind == "refused" or (300 <= status < 500 and status != 429):
                # Unavailable: allow all. (A refused origin is refused again, with its
                # own reason, when the page itself is requested.)
                return RobotsVerdict()
            return RobotsVerdict(unreachable=error)
        return RobotsVerdict.parse(page.content)

    def _apply_crawl_delay(self, current: str, verdict: RobotsVerdict) -> None:
        delay = verdict.crawl_delay(self.policy.robots_token)
        if delay:
            gate = self._gate(*_split(current, original=current))
            wanted = min(delay, self.policy.max_crawl_delay_s)
            gate.min_delay = max(gate.min_delay, wanted)

    async def _one_hop(
        self,
        url: str,
        current: str,
        headers: dict[str, str],
        limit: int,
        *,
        truncate: bool,
        check: bool,
    ) -> Page | tuple[int, str]:
        """One request: a Page, or (status, Location) for a redirect to follow."""
        assert self._client is not None
        try:
            request = self._client.build_request("GET", current, headers=headers)
            response = await self._client.send(request, stream=True)
        except AddressRefused as exc:
            raise FetchError(url, f"refused: {exc.reason}", "refused") from None
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
                return _page(url, current, response, b"")
            if not 200 <= status < 300:
                raise _status_error(url, response)
            if check:
                problem = unsupported_media_type(response.headers.get("Content-Type"))
                if problem:
                    raise FetchError(url, problem, "content_type")
            body = await self._read_body(url, response, limit=limit, truncate=truncate)
            return _page(url, current, response, body)
        finally:
            await response.aclose()

    async def _read_body(
        self, url: str, response: httpx.Response, *, limit: int, truncate: bool
    ) -> bytes:
        """The decoded body, at most `limit` bytes (else too_large, or cut if `truncate`)."""
        too_large = FetchError(url, f"body larger than {limit} bytes", "too_large")
        try:
            decoder = BoundedDecoder(response.headers.get("Content-Encoding"))
        except UnsupportedEncoding as exc:
            raise FetchError(url, str(exc), "content_type") from None
        declared = response.headers.get("Content-Length", "")
        # Without Content-Encoding the declared length is the body length: refuse early.
        plain = decoder.coding == "identity"
        if plain and not truncate and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            # Raw (still encoded) bytes, inflated here at most up to the cap: a gzip bomb
            # is cut after `limit` bytes of output, never inflated a network chunk at once.
            async for raw in response.aiter_raw():
                piece = decoder.decode(raw, limit - size)
                size += len(piece)
                if size > limit:
                    if not truncate:
                        raise too_large
                    chunks.append(piece[: len(piece) - (size - limit)])
                    break
                chunks.append(piece)
        except CorruptEncoding as exc:
            raise FetchError(url, f"could not decode body: {exc}", "parse") from None
        except httpx.TimeoutException as exc:
            raise FetchError(url, _timeout_reason(exc, self.policy), "timeout") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"connection failed: {_describe(exc)}", "network") from exc
        return b"".join(chunks)


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


def _status_error(url: str, response: httpx.Response) -> FetchError:
    status = response.status_code
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    reason = f"HTTP {status}"
    if retry_after is not None:
        reason += f" (Retry-After {retry_after:g}s)"
    return FetchError(url, reason, "http_status", status=status, retry_after=retry_after)


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
    host = bare_host(parts.hostname or "")
    if not host:
        raise FetchError(original, "bad URL: no host", "bad_url")
    return host, port if port is not None else (443 if scheme == "https" else 80)


def _origin(url: str) -> str:
    """scheme://host[:port] of an already validated URL: robots.txt's scope (RFC 9309)."""
    parts = urlsplit(url.strip())
    host = bare_host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return f"{parts.scheme.lower()}://{netloc}"


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
