"""Main-text quality and speed of extractors.extract.extract_article.

Data: the ScrapingHub (Zyte) article-extraction benchmark, 181 pages with hand-made
reference bodies (../shared/eval/extraction, see its README for the metric, implemented
here from that description). Prints precision/recall/F1 over word 4-shingles with a
bootstrap standard deviation, accuracy (identical token lists), failures and pages/s
(single process, extraction calls only).

    uv run python bench/extraction_quality.py [--mode precision|balanced|recall|all]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

from extractors.extract import ExtractionError, ExtractionMode, extract_article

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "extraction"
FETCHED_AT = datetime(2025, 1, 1, tzinfo=UTC)
_TOKEN = re.compile(r"\w+")

Counts = tuple[float, float, float]  # normalised tp, fp, fn of one page


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def shingles(words: list[str], n: int = 4) -> Counter[tuple[str, ...]]:
    if not words:
        return Counter()
    if len(words) < n:
        return Counter([tuple(words)])
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def page_counts(truth: str, predicted: str) -> Counts:
    true_sh, pred_sh = shingles(tokens(truth)), shingles(tokens(predicted))
    tp = fp = fn = 0
    for key in true_sh.keys() | pred_sh.keys():
        t, p = true_sh[key], pred_sh[key]
        tp += min(t, p)
        fp += max(0, p - t)
        fn += max(0, t - p)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _ratio(num: float, other: float, third: float) -> float:
    if other == 0 and third == 0:
        return 1.0
    if num == 0 and other == 0:
        return 0.0
    return num / (num + other)


def scores(pages: list[Counts]) -> tuple[float, float, float]:
    """(precision, recall, F1) averaged as the benchmark README prescribes."""
    precisions = [_ratio(tp, fp, fn) for tp, fp, fn in pages if tp + fp > 0]
    recalls = [_ratio(tp, fn, fp) for tp, fp, fn in pages if tp + fn > 0]
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def bootstrap_std(pages: list[Counts], rounds: int = 1000, seed: int = 0) -> tuple[float, ...]:
    rng = random.Random(seed)
    samples = [scores(rng.choices(pages, k=len(pages))) for _ in range(rounds)]
    stds = []
    for column in zip(*samples, strict=True):
        mean = sum(column) / len(column)
        stds.append((sum((x - mean) ** 2 for x in column) / (len(column) - 1)) ** 0.5)
    return tuple(stds)


def load() -> list[tuple[str, str, str, bytes]]:
    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    items = []
    for key in sorted(truth):
        raw = gzip.decompress((DATA / "html" / f"{key}.html.gz").read_bytes())
        items.append((key, truth[key]["url"], truth[key]["articleBody"], raw))
    return items


def run(mode: ExtractionMode, items: list[tuple[str, str, str, bytes]]) -> None:
    pages: list[Counts] = []
    failures: list[str] = []
    identical = 0
    elapsed = 0.0
    for key, url, body, raw in items:
        start = time.perf_counter()
        try:
            text = extract_article(
                raw, url=url, source="bench", fetched_at=FETCHED_AT, mode=mode
            ).text
        except ExtractionError as exc:
            text = ""
            failures.append(f"{key[:12]}: {exc.reason}")
        elapsed += time.perf_counter() - start
        pages.append(page_counts(body, text))
        identical += tokens(body) == tokens(text)
    p, r, f1 = scores(pages)
    sp, sr, sf = bootstrap_std(pages)
    print(
        f"mode={mode:<9} pages={len(items)} precision={p:.3f}±{sp:.3f} "
        f"recall={r:.3f}±{sr:.3f} F1={f1:.3f}±{sf:.3f} accuracy={identical / len(items):.3f} "
        f"failures={len(failures)} pages/s={len(items) / elapsed:.1f}"
    )
    for failure in failures:
        print(f"  failed {failure}")


def main() -> int:
    modes: tuple[ExtractionMode, ...] = get_args(ExtractionMode)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=[*modes, "all"], default="all")
    args = parser.parse_args()
    if not (DATA / "ground-truth.json").exists():
        print(f"benchmark data not found at {DATA}", file=sys.stderr)
        return 1
    items = load()
    for mode in modes if args.mode == "all" else (args.mode,):
        run(mode, items)
    return 0


if __name__ == "__main__":
    sys.exit(main())
