"""`FetchPolicy`: every limit and politeness setting of a `Fetcher`, in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass

from extractors.robots import product_token

DEFAULT_USER_AGENT = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits for every request a `Fetcher` makes. Times are seconds.

    Politeness: `per_host_concurrency` requests at a time per host, their starts at least
    `per_host_min_delay_s` apart (raised to a robots.txt Crawl-delay, up to
    `max_crawl_delay_s`); robots.txt honoured when `respect_robots`; `contact_url`, if
    set, is added to the User-Agent so site owners know whom to ask.

    Retries inside one `get`: at most `max_retries` more attempts, for network errors,
    408, 429 and 5xx (not timeouts: one already cost `total_timeout_s`). A Retry-After is
    honoured for the whole host; without one, exponential backoff with jitter from
    `backoff_base_s`, capped at `backoff_max_s`. All waiting for retries in one `get` stays
    under `max_retry_wait_s`; a server asking for longer gets no retry and the error
    carries `retry_after`. After `host_failure_limit` consecutive failed fetches (timeouts,
    network errors, 429, 5xx) a host is skipped for the rest of the run (0: never).
    """

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # Whole request: connection (address check included), each redirect hop, headers, body.
    total_timeout_s: float = 30.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host_concurrency: int = 2
    allow_private_addresses: bool = False
    # Host names or IP literals admitted even when they are private/loopback.
    allowed_hosts: frozenset[str] = frozenset()
    contact_url: str = ""
    per_host_min_delay_s: float = 1.0
    respect_robots: bool = True
    max_crawl_delay_s: float = 10.0
    max_retries: int = 2
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_retry_wait_s: float = 60.0
    host_failure_limit: int = 5

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchPolicy.{name} must be > 0")
        if self.max_bytes <= 0 or self.per_host_concurrency <= 0 or self.max_redirects < 0:
            raise ValueError(
                "FetchPolicy: max_bytes and per_host_concurrency must be > 0, max_redirects >= 0"
            )
        for name in (
            "per_host_min_delay_s",
            "max_crawl_delay_s",
            "max_retries",
            "backoff_base_s",
            "backoff_max_s",
            "max_retry_wait_s",
            "host_failure_limit",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"FetchPolicy.{name} must be >= 0")
        object.__setattr__(
            self, "allowed_hosts", frozenset(bare_host(h) for h in self.allowed_hosts)
        )

    @property
    def agent(self) -> str:
        """The User-Agent sent: `user_agent` with `contact_url` added to its comment.

        "newswatch/0.1 (+https://github.com/newswatch/newswatch; +https://example.org/bot)",
        the usual form for crawlers; unchanged if the contact is already in it.
        """
        agent, contact = self.user_agent.strip(), self.contact_url.strip()
        if not contact or contact in agent:
            return agent
        if agent.endswith(")"):
            return f"{agent[:-1]}; +{contact})"
        return f"{agent} (+{contact})"

    @property
    def robots_token(self) -> str:
        """The name robots.txt rules are looked up by ("newswatch")."""
        return product_token(self.user_agent)


def bare_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
