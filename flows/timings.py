"""Seconds spent per pipeline stage in one run, for the summary and the benchmark.

Stages overlap (pages are fetched while others are extracted and stored), so the stages'
seconds add up to more than the run's wall time: each is the time that stage was busy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STAGES = ("poll", "fetch", "extract", "classify", "dedup", "store", "alert")


@dataclass(slots=True)
class StageTimer:
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def merge(self, other: dict[str, float]) -> None:
        for stage, seconds in other.items():
            self.add(stage, seconds)

    def as_dict(self) -> dict[str, float]:
        return {stage: round(seconds, 4) for stage, seconds in self.seconds.items()}
