"""Back-off across runs: when a source that keeps failing may be polled again.

Inside one run the fetcher retries a request a few times (`politeness`); this is the
longer rhythm between runs. A source whose poll failed `n` times in a row waits about
`base * 2**(n-1)`, capped, with "equal jitter" (half fixed, half random) so that sources
which failed together do not all come back in the same run. With a 15-minute schedule
and a 15-minute base, one failure costs no run (the wait is 7.5-15 minutes), two may cost
one, and a source failing for hours is polled every 3-6 hours instead of 24 times.

A server that asked for a pause with Retry-After longer than the fetcher waits within a
run is not polled before that pause is over (up to `MAX_RETRY_AFTER_S`: a header asking
for a year is a mistake or hostile, and must not silence a source for good).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from extractors.politeness import backoff_delay

MAX_RETRY_AFTER_S = 7 * 24 * 3600.0


def failure_backoff_s(
    failures: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before polling a source again after `failures` (>= 1) in a row."""
    if failures < 1:
        return 0.0
    # The exponent is bounded so a source failing for years cannot overflow 2**n.
    attempt = min(failures - 1, 62)
    delay = backoff_delay(attempt, base=base_s, cap=max_s, rng=rng or random.Random())
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def next_poll_at(
    failures: int,
    polled_at: datetime,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """When a source that failed `failures` times in a row, last at `polled_at`, is due."""
    seconds = failure_backoff_s(
        failures, base_s=base_s, max_s=max_s, retry_after_s=retry_after_s, rng=rng
    )
    return polled_at + timedelta(seconds=seconds)


def is_due(next_poll: datetime | None, now: datetime) -> bool:
    """A source with no pending back-off, or whose back-off is over, is polled."""
    return next_poll is None or next_poll <= now
