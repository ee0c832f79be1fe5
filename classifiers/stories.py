"""Story assignment and the alert decision (first cut: exact and near-duplicate copies).

A copy of an article already stored joins that article's story and never alerts; an
original that matches a watch opens a story and alerts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from classifiers.fingerprint import hamming
from newswatch.models import Match

AlertKind = Literal["new_story"]


def nearest_duplicate(
    fingerprint: int, candidates: Iterable[tuple[int, int]], max_distance: int
) -> int | None:
    """The key of the closest candidate (key, fingerprint) within max_distance bits, if any."""
    best: tuple[int, int] | None = None
    for key, other in candidates:
        distance = hamming(fingerprint, other)
        if distance <= max_distance and (best is None or distance < best[0]):
            best = (distance, key)
    return best[1] if best else None


def decide_alert(matches: Sequence[Match], is_copy: bool) -> AlertKind | None:
    """Alert on an original that matched at least one watch; never on a copy."""
    if is_copy or not any(m.matched for m in matches):
        return None
    return "new_story"
