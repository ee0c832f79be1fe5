"""Per-host politeness inside one run: concurrency, spacing, pauses asked for, give-up.

A `HostGate` is shared by every request a `Fetcher` makes to one host. Its `turn()`
admits at most `concurrency` requests at a time and spaces their starts at least
`min_delay` seconds apart (across all concurrent callers: start times are reserved in
order, without a lock, since asyncio runs one coroutine at a time between awaits). A
server's Retry-After pauses the whole host, not only the request that got it, and a host
whose requests keep failing is given up for the rest of the run.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from extractors.errors import FetchError


class HostGate:
    """Admission to one host; see the module docstring. Times are the event loop's."""

    def __init__(self, host: str, *, concurrency: int, min_delay: float) -> None:
        self.host = host
        self.min_delay = min_delay
        self._slots = asyncio.Semaphore(concurrency)
        self._next_start = 0.0
        self._paused_until = 0.0
        self._paused_status: int | None = None
        self.failures = 0  # consecutive failed fetches
        self.last_failure: FetchError | None = None

    @asynccontextmanager
    async def turn(self, url: str, *, max_pause: float) -> AsyncIterator[None]:
        """Hold a slot for one request to this host, starting no sooner than allowed.

        Raises FetchError(kind "http_status", retry_after=...) at once when the host asked
        for a pause longer than `max_pause`: waiting that long would hang the run.
        """
        self.refuse_if_paused(url, max_pause=max_pause)
        async with self._slots:
            # Again: the pause may have been asked for while this request queued.
            self.refuse_if_paused(url, max_pause=max_pause)
            loop = asyncio.get_running_loop()
            now = loop.time()
            start = max(now, self._next_start, self._paused_until)
            self._next_start = start + self.min_delay
            if start > now:
                await asyncio.sleep(start - now)
            yield

    def pause(self, seconds: float, status: int | None) -> None:
        """The host asked (Retry-After) that nothing be sent for `seconds`."""
        until = asyncio.get_running_loop().time() + max(seconds, 0.0)
        if until > self._paused_until:
            self._paused_until, self._paused_status = until, status

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - asyncio.get_running_loop().time())

    def refuse_if_paused(self, url: str, *, max_pause: float) -> None:
        remaining = self.paused_for()
        if remaining > max_pause:
            status = self._paused_status
            raise FetchError(
                url,
                f"HTTP {status}: {self.host} asked for a pause of {remaining:.0f}s (Retry-After)",
                "http_status",
                status=status,
                retry_after=remaining,
            )

    def refuse_if_failing(self, url: str, *, limit: int) -> None:
        """Give up on a host after `limit` consecutive failed fetches (0: never)."""
        last = self.last_failure
        if limit and self.failures >= limit and last is not None:
            raise FetchError(
                url,
                f"skipped: {self.host} failed {self.failures} fetches in a row in this run"
                f" (last: {last.reason})",
                last.kind,
                status=last.status,
                retry_after=last.retry_after,
            )

    def record(self, failure: FetchError | None) -> None:
        """The outcome of one fetch: None for success, else its transient failure."""
        if failure is None:
            self.failures, self.last_failure = 0, None
        else:
            self.failures += 1
            self.last_failure = failure


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, never above `cap`.

    Attempt 0 waits base/2..base, attempt 1 base..2*base, ...; the random half keeps many
    fetchers that failed together from retrying together.
    """
    delay = min(cap, base * (2**attempt))
    return float(delay / 2 + rng.uniform(0, delay / 2))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
