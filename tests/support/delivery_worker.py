"""One delivery pass in a process of its own, for the crash test to kill.

    python -m tests.support.delivery_worker DATABASE_URL WEBHOOK_URL_ENV

The webhook URL is read from the named environment variable (a secret, not an argument
other users could read in the process list). Prints a one-line report when done.
"""

from __future__ import annotations

import sys

from alerts.channels import SlackChannel
from alerts.outbox import RetryPolicy, deliver_pending
from storage.db import Database


def main(database_url: str, url_env: str) -> None:
    db = Database(database_url)
    channel = SlackChannel(name="slack", webhook_url_env=url_env, timeout_s=120)
    report = deliver_pending(db, {"slack": channel}, RetryPolicy(), batch=50)
    print(f"sent={report.sent} retrying={report.retrying} failed={report.failed}", flush=True)
    db.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
