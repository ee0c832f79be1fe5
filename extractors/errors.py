"""`FetchError`: why a fetch produced no usable response, for code (`kind`) and people.

Kinds (`FetchErrorKind`):

- "timeout": connect, read or the whole request's deadline ran out;
- "http_status": a non-2xx answer (`status` set), a redirect without Location or too many
  redirects (`status` is the last 3xx); `retry_after` is set (seconds) when the server
  asked for a pause (429/503 with Retry-After) longer than the fetcher waits by itself,
  so a caller can schedule the source later;
- "too_large": the body, counted after decompression, is larger than the cap;
- "refused": not http(s), or the host resolves to a private, loopback, link-local,
  multicast or reserved address that the policy does not admit;
- "network": connection refused or reset, DNS failure, broken transfer;
- "bad_url": the URL cannot be parsed or has no host;
- "robots": robots.txt disallows the URL for our user agent. (When robots.txt itself
  cannot be read, RFC 9309 says to assume "disallow all": the request then fails as a
  `RobotsUnreachable` carrying robots.txt's own kind, e.g. "network" or "http_status".)
- "content_type": a media type newswatch does not process (only HTML, XHTML, XML/feed,
  text/plain and gzip are read) or a Content-Encoding it does not decode;
- "parse": the body's Content-Encoding is corrupt (e.g. bad gzip data).
"""

from __future__ import annotations

from typing import Any, Literal

from extractors.urls import redact_url

FetchErrorKind = Literal[
    "timeout",
    "http_status",
    "too_large",
    "refused",
    "network",
    "bad_url",
    "robots",
    "content_type",
    "parse",
]


class FetchError(Exception):
    """A fetch that did not produce a usable response.

    `kind` is for code, `reason` for people; `status` is the HTTP status for kind
    "http_status" (None otherwise); `retry_after` is the pause in seconds the server asked
    for with Retry-After, if it did. `str()` shows the URL redacted, never its query.
    """

    def __init__(
        self,
        url: str,
        reason: str,
        kind: FetchErrorKind,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(url, reason, kind)
        self.url = url
        self.reason = reason
        self.kind: FetchErrorKind = kind
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.reason} ({redact_url(self.url)})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process and Prefect boundaries: keep the keyword-only fields too.
        return (_rebuild, (self.url, self.reason, self.kind, self.status, self.retry_after))


class RobotsUnreachable(FetchError):
    """Refused because the host's robots.txt could not be read (see `robots`).

    Not retried by the fetcher: the verdict holds for the rest of the run.
    """


def _rebuild(
    url: str, reason: str, kind: FetchErrorKind, status: int | None, retry_after: float | None
) -> FetchError:
    return FetchError(url, reason, kind, status=status, retry_after=retry_after)


def is_transient(error: FetchError) -> bool:
    """Errors that may pass on their own: timeouts, network errors, 429 and 5xx."""
    if error.kind in ("timeout", "network"):
        return True
    return error.kind == "http_status" and (error.status or 0) in TRANSIENT_STATUSES


TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
