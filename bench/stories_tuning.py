"""Story thresholds on the shared dev set: the grid, and a leave-one-storyline-out estimate.

    uv run python bench/stories_tuning.py [../shared/eval/stories/dev.jsonl]

Every figure is a replay through the pipeline's own store_article (as `newswatch eval
stories` does), with the module constants of classifiers.stories / classifiers.events set
to each grid point. The leave-one-storyline-out estimate picks the grid point that scores
best on the other storylines (distractor events with no storyline form one more group), then
measures the held-out group with it, inside a replay of the whole set (so its stories can
still be confused with the others): an estimate of the figures on storylines not tuned on.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import classifiers.events as events
import classifiers.stories as stories
from flows.pipeline import Placement, StoryContext
from newswatch.config import load_settings
from newswatch.story_eval import (
    StoryRecord,
    evaluate_stories,
    read_story_records,
    replay,
)

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "eval" / "stories" / "dev.jsonl"

GRID = {
    "EVENT_THRESHOLD": (0.14, 0.18, 0.22),
    "STORYLINE_THRESHOLD": (0.10, 0.12, 0.13, 0.14, 0.16),
    "ENTITY_MAX_SHARE": (0.3, 1.0),
}
OWNER = {"EVENT_THRESHOLD": stories, "STORYLINE_THRESHOLD": stories, "ENTITY_MAX_SHARE": events}


@contextmanager
def settings(point: dict[str, float]) -> Iterator[None]:
    saved = {name: getattr(OWNER[name], name) for name in point}
    try:
        for name, value in point.items():
            setattr(OWNER[name], name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(OWNER[name], name, value)


@dataclass(frozen=True, slots=True)
class Scores:
    bcubed_f1: float
    storyline_precision: float
    storyline_recall: float
    alerts_per_event: float

    @property
    def storyline_f1(self) -> float:
        p, r = self.storyline_precision, self.storyline_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def objective(self) -> float:
        """Clustering and storyline F1 alike; alerts beyond 1.1 per relevant event cost."""
        return (self.bcubed_f1 + self.storyline_f1) / 2 - max(0.0, self.alerts_per_event - 1.1)


def scores(records: Sequence[StoryRecord], placements: Sequence[Placement]) -> Scores:
    result = evaluate_stories(records, placements)
    return Scores(
        result.bcubed_f1,
        result.storyline_precision,
        result.storyline_recall,
        result.alerts_per_relevant_event,
    )


def group_of(record: StoryRecord) -> str:
    return record.storyline or "(no storyline)"


def main(argv: Sequence[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    if not path.exists():
        print(f"{path} not found: nothing to tune on")
        return
    records = read_story_records(path)
    base = StoryContext.from_settings(load_settings(None))
    context = StoryContext(base.watches, [], base.near_duplicate_days)
    names = list(GRID)
    points = [dict(zip(names, values, strict=True)) for values in itertools.product(*GRID.values())]
    groups = sorted({group_of(r) for r in records})
    started = time.perf_counter()

    full: list[tuple[dict[str, float], list[Placement]]] = []
    print(f"grid on {path.name}: {len(records)} articles, {len(points)} points")
    print("  " + "  ".join(f"{n:>20}" for n in names) + "  bcubed_f1  line_P  line_R  alerts/ev")
    for point in points:
        with settings(point):
            placements = replay(records, context)
        full.append((point, placements))
        s = scores(records, placements)
        print(
            "  "
            + "  ".join(f"{point[n]:>20}" for n in names)
            + f"  {s.bcubed_f1:9.3f}  {s.storyline_precision:6.3f}  {s.storyline_recall:6.3f}"
            + f"  {s.alerts_per_event:9.2f}"
        )

    print("\nleave one storyline out (tuned on the other groups, measured on the held-out one)")
    by_point = {tuple(p.items()): pl for p, pl in full}
    totals = {"articles": 0, "bcubed": 0.0, "links": 0, "correct": 0, "wanted": 0, "found": 0}
    for held in groups:
        train = [r for r in records if group_of(r) != held]
        best: tuple[float, dict[str, float]] | None = None
        for point in points:
            with settings(point):
                objective = scores(train, replay(train, context)).objective
            if best is None or objective > best[0]:
                best = (objective, point)
        assert best is not None
        placements = by_point[tuple(best[1].items())]
        idx = [i for i, r in enumerate(records) if group_of(r) == held]
        result = evaluate_stories([records[i] for i in idx], [placements[i] for i in idx])
        totals["articles"] += len(idx)
        totals["bcubed"] += result.bcubed_f1 * len(idx)
        totals["links"] += result.storyline_links
        totals["correct"] += result.storyline_correct
        totals["wanted"] += result.storyline_wanted
        totals["found"] += result.storyline_found
        print(
            f"  {held:26} n={len(idx):3}  chose {json.dumps(best[1])}"
            f"  bcubed_f1={result.bcubed_f1:.3f}  links {result.storyline_correct}/"
            f"{result.storyline_links} right, earlier events {result.storyline_found}/"
            f"{result.storyline_wanted} found"
        )
    summary: dict[str, Any] = {
        "bcubed_f1": round(totals["bcubed"] / totals["articles"], 3),
        "storyline_precision": round(totals["correct"] / max(1, totals["links"]), 3),
        "storyline_recall": round(totals["found"] / max(1, totals["wanted"]), 3),
    }
    print(f"\nleave-one-storyline-out estimate (pooled): {json.dumps(summary)}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main(sys.argv)
