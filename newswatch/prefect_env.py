"""Prefect settings newswatch needs before Prefect is first imported."""

from __future__ import annotations

import os

DEFAULTS = {
    # No internet is needed to run newswatch; Prefect's analytics would only log errors.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # The ephemeral API server can take ~20 s to start on a small machine (default limit 20 s).
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def configure_prefect_defaults() -> None:
    """Apply newswatch's defaults without overriding anything the user set."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
