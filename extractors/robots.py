"""robots.txt verdicts (RFC 9309), parsed with Protego.

What a robots.txt fetch means (decided here, applied by `Fetcher`, which fetches it once
per origin per run, through the same guarded path as everything else):

- 2xx: its rules apply to our product token (the User-Agent's first word, "newswatch"),
  else to "*"; only the first ROBOTS_MAX_BYTES are read (RFC 9309 asks for 500 KiB);
- 3xx: followed like any redirect (up to the redirect cap); too many is "unavailable";
- 4xx but 429 ("unavailable"): no rules, everything allowed;
- 429, 5xx, timeout, network error ("unreachable", after the fetcher's usual retries):
  everything disallowed for this run, as RFC 9309 section 2.3.1.4 says; the next run
  asks again. Requests refused this way fail with the kind and status of robots.txt's
  own failure (a host that is down reports "network", not "robots"), and a reason that
  says robots.txt was unreachable;
- refused by the address guard: "unavailable" (the page itself is then refused by the
  guard with its own reason, or, when only robots.txt redirected somewhere internal,
  fetched as if there were no robots.txt).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protego import Protego

from extractors.errors import FetchError

ROBOTS_MAX_BYTES = 500 * 1024


@dataclass(frozen=True, slots=True)
class RobotsVerdict:
    """The rules of one origin: parsed rules, none (allow all) or unreachable (deny all)."""

    rules: Protego | None = None
    unreachable: FetchError | None = None  # why robots.txt could not be read

    @classmethod
    def parse(cls, body: bytes) -> RobotsVerdict:
        text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
        return cls(rules=Protego.parse(text))

    def refusal(self, url: str, token: str) -> str | None:
        """Why `url` may not be fetched by `token`, or None if it may."""
        if self.unreachable is not None:
            return (
                f"{self.unreachable.reason} (robots.txt unreachable: the host is treated"
                " as disallowing everything for this run)"
            )
        if self.rules is not None and not self.rules.can_fetch(url, token):
            return f"disallowed by robots.txt for {token!r}"
        return None

    def crawl_delay(self, token: str) -> float | None:
        if self.rules is None:
            return None
        delay = self.rules.crawl_delay(token)
        return float(delay) if delay is not None else None


_PRODUCT = re.compile(r"[A-Za-z0-9_-]+")


def product_token(user_agent: str) -> str:
    """The name robots.txt groups are matched against: "newswatch" for "newswatch/0.1 (...)"."""
    match = _PRODUCT.match(user_agent.strip())
    return match.group(0).lower() if match else "*"
