"""Send one digest to each of several channels, retrying transient failures in place.

A digest is one message a day, not an outbox row: a channel that is down is tried a few
times with growing waits (never sooner than a server's Retry-After; a Retry-After longer
than ``max_wait_s`` ends the tries), then reported as failed; the other channels are
neither held back nor sent twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rich.console import Console

from .channels import ChannelConfig, DeliveryError, send_digest
from .digest import Digest


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    channel: str
    sent: bool
    attempts: int
    error: str | None = None


def deliver_digest(
    digest: Digest,
    channels: Mapping[str, ChannelConfig],
    *,
    attempts: int = 3,
    base_wait_s: float = 5.0,
    max_wait_s: float = 120.0,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DigestOutcome]:
    outcomes = []
    for name, channel in channels.items():
        error: DeliveryError | None = None
        tries = 0
        for tries in range(1, attempts + 1):
            try:
                send_digest(channel, digest, console=console)
                error = None
                break
            except DeliveryError as exc:
                error = exc
                if not exc.retryable or tries == attempts:
                    break
                if exc.retry_after is not None and exc.retry_after > max_wait_s:
                    break  # never earlier than the server asked; too long to wait here
                backoff = min(base_wait_s * 2 ** (tries - 1), max_wait_s)
                sleep(max(backoff, exc.retry_after or 0.0))
        outcomes.append(
            DigestOutcome(name, error is None, tries, None if error is None else str(error))
        )
    return outcomes
