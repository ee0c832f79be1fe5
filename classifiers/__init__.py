"""Watches (topic definitions), scoring with evidence, and near-duplicate fingerprints.

Pure functions over plain data: no network, database or Prefect.
"""

from classifiers.fingerprint import (
    DEFAULT_MAX_DISTANCE,
    fingerprint_body,
    from_signed64,
    hamming,
    is_near_duplicate,
    normalise_text,
    simhash,
    text_hash,
    to_signed64,
)
from classifiers.watches import (
    Watch,
    WatchConfigError,
    WatchSpec,
    classify,
    compile_watch,
    parse_watches,
    score,
    watches_from_toml,
)

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "Watch",
    "WatchConfigError",
    "WatchSpec",
    "classify",
    "compile_watch",
    "fingerprint_body",
    "from_signed64",
    "hamming",
    "is_near_duplicate",
    "normalise_text",
    "parse_watches",
    "score",
    "simhash",
    "text_hash",
    "to_signed64",
    "watches_from_toml",
]
