"""Back-off across runs, wired to the database: which sources a run polls, and when a
source that failed may be polled again (the rule itself: extractors.source_backoff)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime

from extractors.source_backoff import is_due, next_poll_at
from flows.pipeline import SourceOutcome
from newswatch.config import HttpConfig, SourceConfig
from storage import repo
from storage.db import Database


def due_sources(
    db: Database, sources: Sequence[SourceConfig], now: datetime, *, force: bool = False
) -> tuple[list[SourceConfig], list[SourceOutcome]]:
    """The sources to poll now, and a "skipped" outcome for each one still backing off.

    `force` polls every source, backing off or not (`newswatch run --force`).
    """
    if force:
        return list(sources), []
    with db.session() as session:
        rows = repo.source_schedule(session, [s.name for s in sources])
        due: list[SourceConfig] = []
        waiting: list[SourceOutcome] = []
        for source in sources:
            row = rows.get(source.name)
            if row is None or is_due(row.next_poll_at, now):
                due.append(source)
                continue
            assert row.next_poll_at is not None  # not due means scheduled later
            waiting.append(
                SourceOutcome.backing_off(
                    source.name,
                    until=row.next_poll_at,
                    failures=row.consecutive_failures,
                    error=row.last_error,
                    error_kind=row.last_error_kind,
                )
            )
    return due, waiting


def failure_backoff(
    outcome: SourceOutcome, http: HttpConfig, rng: random.Random | None = None
) -> Callable[[int, datetime], datetime]:
    """For `repo.record_poll`: when the source of a failed `outcome` is due again, given
    its consecutive failures and the poll's time (a long Retry-After pushes it later)."""

    def schedule(failures: int, polled_at: datetime) -> datetime:
        return next_poll_at(
            failures,
            polled_at,
            base_s=http.failure_backoff_base_s,
            max_s=http.failure_backoff_max_s,
            retry_after_s=outcome.retry_after,
            rng=rng,
        )

    return schedule


def record_outcomes(
    db: Database, outcomes: Sequence[SourceOutcome], http: HttpConfig, now: datetime
) -> None:
    """Save each source's poll: status, error, validators and when it may be polled next.

    Called after the run's pages are stored: validators saved earlier would let a crash
    mid-run make the next run skip the pages they cover.
    """
    with db.session() as session:
        for outcome in outcomes:
            row = repo.record_poll(
                session,
                outcome.name,
                status=outcome.status,
                polled_at=now,
                error=outcome.error,
                error_kind=outcome.error_kind,
                etag=outcome.etag,
                last_modified=outcome.last_modified,
                backoff=failure_backoff(outcome, http),
            )
            outcome.scheduled(row)
