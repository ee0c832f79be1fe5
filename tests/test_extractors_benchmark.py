"""The benchmark metric, and extraction quality on a sample of the ScrapingHub pages.

The pages live outside the repository (../shared/eval/extraction); without them the
quality test is skipped.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "extraction_quality.py"


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extraction_quality", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def test_metric_perfect_and_disjoint() -> None:
    assert bench.page_counts("a b c d e", "a b c d e") == (1.0, 0.0, 0.0)
    tp, fp, fn = bench.page_counts("a b c d", "w x y z")
    assert (tp, fp, fn) == (0.0, 0.5, 0.5)


def test_metric_partial_and_short_texts() -> None:
    # truth has 3 shingles; prediction repeats one and misses two
    tp, fp, fn = bench.page_counts("a b c d e f", "a b c d a b c d")
    assert tp > 0 and fp > 0 and fn > 0
    assert abs(tp + fp + fn - 1) < 1e-9
    # fewer than four tokens make one shingle
    assert bench.shingles(["a", "b"]) == {("a", "b"): 1}
    assert bench.shingles([]) == {}


def test_scores_average_as_specified() -> None:
    perfect = (1.0, 0.0, 0.0)
    empty_prediction = (0.0, 0.0, 1.0)  # excluded from precision, recall 0
    p, r, f1 = bench.scores([perfect, empty_prediction])
    assert (p, r) == (1.0, 0.5)
    assert abs(f1 - 2 / 3) < 1e-9


@pytest.mark.skipif(
    not (bench.DATA / "ground-truth.json").exists(), reason="benchmark data not present"
)
def test_extraction_quality_on_sample() -> None:
    from extractors.extract import ExtractionError, extract_article

    items = bench.load()[:25]
    pages = []
    for _key, url, body, raw in items:
        try:
            text = extract_article(raw, url=url, source="bench", fetched_at=bench.FETCHED_AT).text
        except ExtractionError:
            text = ""
        pages.append(bench.page_counts(body, text))
    _p, _r, f1 = bench.scores(pages)
    assert f1 > 0.9
