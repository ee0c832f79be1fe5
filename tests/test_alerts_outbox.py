"""The delivery outbox under faults: overlapping runs, a run killed mid-send, a receiver that
fails and recovers. Every test counts what the Slack-contract receiver got per alert.

Figures are printed (run with ``-s`` to see them); the README quotes them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts.channels import SlackChannel
from alerts.outbox import DeliveryReport, RetryPolicy, deliver_pending
from storage import repo
from storage.db import Database
from storage.models import Delivery
from tests.support.outbox_data import NOW, receipt_counts, seed_alerts
from tests.support.slack_receiver import SlackReceiver

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


def statuses(db: Database) -> dict[str, int]:
    with db.session() as session:
        return repo.delivery_status_counts(session)


def deliveries(db: Database) -> list[Delivery]:
    with db.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def backend(db: Database) -> str:
    return "sqlite" if db.is_sqlite else "postgresql"


# --- two runs at once ------------------------------------------------------------------------


def test_overlapping_runs_never_send_a_delivery_twice(
    db: Database, database_url: str, slack: SlackReceiver
) -> None:
    alerts = 40
    seed_alerts(db, alerts, ["slack"])
    slack.latency_s = 0.005  # keeps both runs mid-batch at the same time
    channel = {"slack": SlackChannel(name="slack", webhook_url=slack.url)}
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        database = Database(database_url)  # an engine each, as two processes have
        try:
            start.wait()
            reports.append(deliver_pending(database, channel, RetryPolicy(), batch=3))
        except BaseException as exc:
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    counts = receipt_counts(slack.payloads)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\noverlap [{backend(db)}]: alerts={alerts} received={slack.attempts} "
        f"unique={len(counts)} duplicates={duplicates} per-run sent={[r.sent for r in reports]}"
    )
    assert not errors
    assert len(counts) == alerts and duplicates == 0
    assert sorted(counts) == sorted(d.alert_id for d in deliveries(db))
    assert sum(r.sent for r in reports) == alerts
    assert statuses(db) == {"sent": alerts}


# --- a run killed with SIGKILL mid-send ----------------------------------------------------------


def test_a_run_killed_mid_send_is_finished_by_the_next_run(
    db: Database, database_url: str, slack: SlackReceiver
) -> None:
    alerts, before_kill = 12, 5
    seed_alerts(db, alerts, ["slack"])
    # Five answered, then the sixth is received and its answer held back: the worst moment
    # to die, since Slack has the message and the outbox does not know it.
    slack.pass_next(before_kill)
    slack.stall_next(1, seconds=120)
    env = {**os.environ, "NW_TEST_WORKER_HOOK": slack.url}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.delivery_worker",
            database_url,
            "NW_TEST_WORKER_HOOK",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert slack.stalled.wait(60), worker.stderr.read().decode() if worker.stderr else ""
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
        for stream in (worker.stdout, worker.stderr):
            if stream is not None:
                stream.close()
    killed_at = statuses(db)
    received_by_kill = len(slack.payloads)
    assert killed_at == {"sent": before_kill, "sending": alerts - before_kill}

    # A run within the lease leaves the dead run's claims alone (it might still be alive)...
    policy = RetryPolicy(lease_s=30)
    early = deliver_pending(
        db,
        {"slack": SlackChannel(name="slack", webhook_url=slack.url)},
        policy,
        clock=lambda: datetime.now(UTC),
    )
    assert early.sent == 0 and statuses(db) == killed_at
    # ...and once the lease has run out (the clock moved past it) takes them over.
    later = deliver_pending(
        db,
        {"slack": SlackChannel(name="slack", webhook_url=slack.url)},
        policy,
        clock=lambda: datetime.now(UTC) + timedelta(seconds=31),
    )
    counts = receipt_counts(slack.payloads)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\ncrash [{backend(db)}]: alerts={alerts} received before kill={received_by_kill} "
        f"sent by next run={later.sent} received in all={len(slack.payloads)} "
        f"unique={len(counts)} duplicates={duplicates}"
    )
    assert len(counts) == alerts  # every alert arrived
    # The guarantee (README, "Alerts"): at most one duplicate per killed run and channel,
    # the delivery that was in flight when it died.
    assert duplicates <= 1
    assert statuses(db) == {"sent": alerts}


# --- a receiver that fails, then recovers --------------------------------------------------------


def test_every_alert_arrives_once_through_failures_and_recovery(
    db: Database, slack: SlackReceiver
) -> None:
    alerts = 10
    seed_alerts(db, alerts, ["slack"])
    # The first run meets a rate limit, server errors and dropped connections.
    slack.rate_limit_next(1, retry_after=120)
    slack.fail_next(2, status=500)
    slack.drop_next(2)
    slack.fail_next(1, status=503, retry_after=1)
    slack.drop_next(1)
    channel = {"slack": SlackChannel(name="slack", webhook_url=slack.url, timeout_s=5)}
    policy = RetryPolicy(max_attempts=6, base_s=1, max_s=10)
    start = NOW
    first = deliver_pending(db, channel, policy, clock=lambda: start)
    assert (first.sent, first.retrying, first.failed) == (alerts - 7, 7, 0)
    rate_limited = deliveries(db)[0]
    assert rate_limited.status == "pending" and "rate limited" in (rate_limited.last_error or "")
    # Retry-After (120 s) wins over the backoff (at most 1 s for a first retry).
    assert rate_limited.next_attempt_at >= start + timedelta(seconds=120)

    # The receiver has recovered; a run a minute later retries all but the rate-limited one.
    second = deliver_pending(db, channel, policy, clock=lambda: start + timedelta(seconds=60))
    assert second.sent == 6 and statuses(db) == {"sent": alerts - 1, "pending": 1}
    assert deliveries(db)[0].attempts == 1  # not tried before its Retry-After
    third = deliver_pending(db, channel, policy, clock=lambda: start + timedelta(seconds=121))
    assert third.sent == 1

    counts = receipt_counts(slack.payloads)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\nfail-then-recover [{backend(db)}]: alerts={alerts} requests={slack.attempts} "
        f"failed answers={slack.attempts - len(slack.payloads)} unique={len(counts)} "
        f"duplicates={duplicates} runs=3"
    )
    assert len(counts) == alerts and duplicates == 0
    assert statuses(db) == {"sent": alerts}


def test_permanent_failures_stop_and_can_be_retried(db: Database, slack: SlackReceiver) -> None:
    seed_alerts(db, 3, ["slack"])
    slack.fail_next(1, status=403, body="action_prohibited")  # permanent: no retry
    slack.fail_next(2, status=500)  # retryable, but only one attempt allowed
    channel = {"slack": SlackChannel(name="slack", webhook_url=slack.url)}
    report = deliver_pending(db, channel, RetryPolicy(max_attempts=1), clock=lambda: NOW)
    assert (report.sent, report.failed) == (0, 3)
    failed = deliveries(db)
    assert all(d.status == "failed" and d.attempts == 1 for d in failed)
    assert "action_prohibited" in (failed[0].last_error or "")
    assert slack.url not in " ".join(report.errors)
    with db.session() as session:
        assert repo.retry_failed_deliveries(session, now=NOW, ids=[failed[0].id]) == [failed[0].id]
        assert repo.retry_failed_deliveries(session, now=NOW, ids=[failed[0].id]) == []
    again = deliver_pending(db, channel, RetryPolicy(max_attempts=1), clock=lambda: NOW)
    assert again.sent == 1
    with db.session() as session:
        assert len(repo.retry_failed_deliveries(session, now=NOW)) == 2
    assert deliver_pending(db, channel, RetryPolicy(), clock=lambda: NOW).sent == 2
    assert sorted(receipt_counts(slack.payloads).values()) == [1, 1, 1]


def test_a_run_whose_lease_was_taken_over_does_not_send(db: Database, slack: SlackReceiver) -> None:
    seed_alerts(db, 1, ["slack"])
    lease = timedelta(seconds=30)
    with db.session() as session:
        [delivery_id] = repo.claim_due_deliveries(session, token="slow", now=NOW, lease=lease)
    with db.session() as session:
        later = NOW + 2 * lease
        taken = repo.claim_due_deliveries(session, token="fast", now=later, lease=lease)
        assert taken == [delivery_id]
    with db.session() as session:
        # The slow run wakes up: its lease renewal fails, so it skips the delivery...
        assert not repo.renew_claim(session, delivery_id, token="slow", now=later)
        # ...and a stale failure report from it is not recorded over the new claim.
        assert not repo.finish_delivery(
            session, delivery_id, status="pending", now=later, error="x", token="slow"
        )
        assert repo.renew_claim(session, delivery_id, token="fast", now=later)
