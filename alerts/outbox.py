"""The delivery outbox: claim due deliveries, send them, record the outcome.

Guarantee: at-least-once, with a duplicate window of one send per crashed run. A delivery is
claimed (status ``sending``, a lease) before it is sent and marked ``sent`` right after its
channel accepted it. Only a run that dies between the channel's "accepted" and that commit
leaves an alert that was received but not recorded; once the lease runs out, the next run
sends it again. A run sends one delivery at a time, so that is at most one duplicate per
killed run and channel. Before each send the run renews its lease and skips a delivery
another run has taken over, so a slow run does not race the run that replaced it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from rich.console import Console
from sqlalchemy.orm import Session

from alerts.channels import ChannelConfig, DeliveryError, send
from alerts.message import AlertMessage, PreviousStory
from newswatch.models import Evidence, Match
from storage import repo
from storage.db import Database
from storage.models import Delivery

CLAIM_LEASE = timedelta(minutes=10)
CLAIM_BATCH = 20  # claimed at a time: an overlapping run can take the rest meanwhile
PREVIOUS_STORIES = 10  # renderers show the first few and count the rest
UPDATE_KEY_PREFIX = "update:"  # dedup key of an alert on a stored article's material change


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 60.0
    max_s: float = 3600.0
    lease_s: float = CLAIM_LEASE.total_seconds()  # a claim older than this was abandoned

    def next_delay(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; never sooner than a server's Retry-After."""
        backoff = min(self.max_s, self.base_s * 2 ** max(0, attempts - 1))
        delay = random.uniform(backoff / 2, backoff)
        return max(delay, retry_after or 0.0)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_s)


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0  # taken over by another run after this run's lease ran out
    errors: list[str] = field(default_factory=list)


def deliver_pending(
    db: Database,
    channels: Mapping[str, ChannelConfig],
    policy: RetryPolicy,
    *,
    console: Console | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    batch: int = CLAIM_BATCH,
) -> DeliveryReport:
    """Send every delivery that is due now, a batch of claims at a time, one send at a time."""
    report = DeliveryReport()
    token = uuid.uuid4().hex
    started = clock()
    while True:
        with db.session() as session:
            claimed = repo.claim_due_deliveries(
                session, token=token, now=clock(), lease=policy.lease, limit=batch, due_at=started
            )
        if not claimed:
            return report
        for delivery_id in claimed:
            _deliver_one(db, delivery_id, token, channels, policy, report, console, clock)


def _deliver_one(
    db: Database,
    delivery_id: int,
    token: str,
    channels: Mapping[str, ChannelConfig],
    policy: RetryPolicy,
    report: DeliveryReport,
    console: Console | None,
    clock: Callable[[], datetime],
) -> None:
    with db.session() as session:
        if not repo.renew_claim(session, delivery_id, token=token, now=clock()):
            report.skipped += 1
            return
        delivery = repo.load_delivery(session, delivery_id)
        message = build_message(delivery)
        channel_name, attempts = delivery.channel, delivery.attempts + 1
        outlets = repo.story_outlets(session, delivery.alert.story_id)
        previous = _previous(session, delivery)
    message = _with_previous(_with_outlets(message, outlets), previous)
    channel = channels.get(channel_name)
    try:
        if channel is None:
            raise DeliveryError(
                f"channel {channel_name!r} is no longer configured", retryable=False
            )
        send(channel, message, console=console)
    except DeliveryError as exc:
        now = clock()
        final = not exc.retryable or attempts >= policy.max_attempts
        delay = None if final else timedelta(seconds=policy.next_delay(attempts, exc.retry_after))
        with db.session() as session:
            recorded = repo.finish_delivery(
                session,
                delivery_id,
                status="failed" if final else "pending",
                now=now,
                error=str(exc),
                next_attempt_at=None if delay is None else now + delay,
                token=token,
            )
        report.errors.append(f"{channel_name}: {exc}")
        if not recorded:
            report.skipped += 1
        elif final:
            report.failed += 1
        else:
            report.retrying += 1
        return
    with db.session() as session:
        repo.finish_delivery(session, delivery_id, status="sent", now=clock(), token=token)
    report.sent += 1


def build_message(delivery: Delivery) -> AlertMessage:
    alert = delivery.alert
    article = alert.article
    matches = tuple(
        Match(
            watch=row.watch,
            score=row.score,
            threshold=row.threshold,
            matched=True,
            terms=tuple(row.terms),
            evidence=tuple(
                Evidence(sentence=e["sentence"], terms=tuple(e["terms"])) for e in row.evidence
            ),
            reason=row.reason,
        )
        for row in sorted(article.matches, key=lambda r: -r.score)
    )
    return AlertMessage(
        alert_id=alert.id,
        kind="development" if alert.kind == "development" else "new_story",
        headline=article.title,
        url=article.canonical_url,
        outlet=article.sitename or article.source,
        published_at=article.published_at,
        matches=matches,
        lead=_lead(article.text),
    )


def _with_outlets(message: AlertMessage, outlets: list[str]) -> AlertMessage:
    others = tuple(o for o in outlets if o != message.outlet)
    if not others:
        return message
    return replace(message, also_reported_by=others)


def _previous(session: Session, delivery: Delivery) -> list[repo.StorySummary]:
    """What a development alert shows as "previously": the storyline's earlier stories; for
    an update of a stored article (a correction, new facts), its own story first."""
    alert = delivery.alert
    if alert.kind != "development":
        return []
    previous = repo.previous_stories(session, alert.story_id, limit=PREVIOUS_STORIES)
    if alert.dedup_key.startswith(UPDATE_KEY_PREFIX):
        own = repo.story_summary(session, alert.story_id)
        previous = [own, *previous] if own else previous
    return previous


def _with_previous(message: AlertMessage, stories: list[repo.StorySummary]) -> AlertMessage:
    """A development shows the earlier stories of its storyline, most recent first."""
    if not stories:
        return message
    return replace(
        message,
        previously=tuple(PreviousStory(s.headline, s.url, s.first_seen_at) for s in stories),
    )


def _lead(text: str, limit: int = 300) -> str:
    first = text.strip().split("\n", 1)[0]
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"
