"""Extraction quality and speed: newswatch's extractor against plain trafilatura.

    uv run python bench/extraction.py [--json] [--data DIR] [--runs 3] [--ablate]

Data: the ScrapingHub (Zyte) article-extraction benchmark, 181 real pages with hand-made
reference bodies (../shared/eval/extraction; see its README). Both extractors run in the
same process on the same pages, already in memory:

- newswatch: `extractors.extract.extract_article` (the pipeline's code path: bytes in,
  charset decoding, metadata, an `Article` out);
- trafilatura: plain `trafilatura.extract(html)` with its defaults, on the page decoded
  as UTF-8 (the benchmark's stated encoding, which newswatch is told too).

Quality uses the benchmark's metric (newswatch.extract_eval: word 4-shingles, per-page
normalised, averaged; bootstrap standard deviations over 1,000 resamples). Speed is
pages/s of one process, the median of --runs timed passes; within a pass the two
extractors take turns page by page, so load from other processes hits both alike.
--ablate also scores newswatch with each of its fixes turned off, one at a time (the F1
each fix is worth).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from extractors.extract import ALL_FIXES, ExtractionError, extract_article  # noqa: E402
from newswatch.extract_eval import (  # noqa: E402
    EVAL_CONTENT_TYPE,
    EVAL_FETCHED_AT,
    EvalPage,
    EvalSet,
    Score,
    load_eval_set,
    newswatch_text,
    score,
)

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "extraction"
F1_TARGET = 0.965
SPEED_TARGET = 0.9  # newswatch pages/s over plain trafilatura pages/s

Extractor = Callable[[EvalPage], str]


def plain_trafilatura(page: EvalPage) -> str:
    return trafilatura.extract(page.html.decode("utf-8", "replace")) or ""


def _without(fix: str) -> Extractor:
    fixes = ALL_FIXES - {fix}

    def extract(page: EvalPage) -> str:
        try:
            return extract_article(
                page.html,
                url=page.url,
                source="eval",
                fetched_at=EVAL_FETCHED_AT,
                content_type=EVAL_CONTENT_TYPE,
                fixes=fixes,
            ).text
        except ExtractionError:
            return ""

    return extract


def timed_pass(extract: Extractor, pages: list[EvalPage]) -> tuple[dict[str, str], float]:
    outputs: dict[str, str] = {}
    start = time.perf_counter()
    for page in pages:
        outputs[page.key] = extract(page)
    return outputs, time.perf_counter() - start


def timed_round(
    extractors: dict[str, Extractor], pages: list[EvalPage]
) -> tuple[dict[str, dict[str, str]], dict[str, float]]:
    """One pass over the pages, the extractors taking turns on each page.

    Page by page, so a burst of load from another process lands on both alike; the order
    alternates between pages so neither always runs on a warm cache.
    """
    names = list(extractors)
    outputs: dict[str, dict[str, str]] = {name: {} for name in names}
    seconds = dict.fromkeys(names, 0.0)
    for index, page in enumerate(pages):
        for name in names if index % 2 == 0 else reversed(names):
            start = time.perf_counter()
            outputs[name][page.key] = extractors[name](page)
            seconds[name] += time.perf_counter() - start
    return outputs, seconds


def measure(
    extractors: dict[str, Extractor], eval_set: EvalSet, runs: int
) -> dict[str, dict[str, Any]]:
    truth = eval_set.truth or {}
    outputs: dict[str, dict[str, str]] = {}
    seconds: dict[str, list[float]] = {name: [] for name in extractors}
    for _ in range(runs):
        texts, elapsed = timed_round(extractors, eval_set.pages)
        for name in extractors:
            outputs.setdefault(name, texts[name])
            seconds[name].append(elapsed[name])
    report: dict[str, dict[str, Any]] = {}
    for name, texts in outputs.items():
        figures: Score = score(truth, texts)
        median = statistics.median(seconds[name])
        report[name] = {
            **figures.as_json(),
            "empty_outputs": sum(1 for text in texts.values() if not text),
            "pages_per_s": round(len(eval_set.pages) / median, 1),
            "seconds_per_run": [round(s, 2) for s in seconds[name]],
        }
    return report


def ablation(eval_set: EvalSet, full_f1: float) -> dict[str, float]:
    truth = eval_set.truth or {}
    deltas: dict[str, float] = {}
    for fix in sorted(ALL_FIXES):
        texts, _ = timed_pass(_without(fix), eval_set.pages)
        deltas[fix] = round(full_f1 - score(truth, texts).f1, 4)
    return deltas


def render(result: dict[str, Any]) -> str:
    rows = [
        f"{'extractor':<12} {'F1':>12} {'precision':>12} {'recall':>12} {'accuracy':>9} "
        f"{'empty':>6} {'pages/s':>8}"
    ]
    for name in ("newswatch", "trafilatura"):
        r = result[name]
        rows.append(
            f"{name:<12} {r['f1']:.3f}±{r['f1_std']:.3f} "
            f"{r['precision']:>6.3f}±{r['precision_std']:.3f} "
            f"{r['recall']:>6.3f}±{r['recall_std']:.3f} {r['accuracy']:>9.3f} "
            f"{r['empty_outputs']:>6} {r['pages_per_s']:>8.1f}"
        )
    rows.append(
        f"F1 delta {result['f1_delta']:+.4f} (target newswatch >= {F1_TARGET}); "
        f"speed ratio {result['speed_ratio']:.2f} (target >= {SPEED_TARGET}); "
        f"{result['pages']} pages, trafilatura {result['trafilatura_version']}, "
        f"median of {result['runs']} runs"
    )
    if "ablation_f1_delta" in result:
        rows.append("F1 lost when one newswatch fix is turned off:")
        rows.extend(f"  {fix:<24} {d:+.4f}" for fix, d in result["ablation_f1_delta"].items())
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=3, help="timed passes (median is kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--ablate", action="store_true", help="F1 delta of each fix")
    args = parser.parse_args()
    if not (args.data / "ground-truth.json").is_file():
        print(f"benchmark data not found at {args.data}", file=sys.stderr)
        return 1
    eval_set = load_eval_set(args.data)
    report = measure(
        {"newswatch": newswatch_text, "trafilatura": plain_trafilatura},
        eval_set,
        max(1, args.runs),
    )
    ours, plain = report["newswatch"], report["trafilatura"]
    result: dict[str, Any] = {
        "pages": len(eval_set.pages),
        "runs": max(1, args.runs),
        "trafilatura_version": trafilatura.__version__,
        "newswatch": ours,
        "trafilatura": plain,
        "f1_delta": round(ours["f1"] - plain["f1"], 4),
        "speed_ratio": round(ours["pages_per_s"] / plain["pages_per_s"], 3),
        "f1_target_met": ours["f1"] >= F1_TARGET and ours["f1"] > plain["f1"],
        "speed_target_met": ours["pages_per_s"] >= SPEED_TARGET * plain["pages_per_s"],
    }
    if args.ablate:
        result["ablation_f1_delta"] = ablation(eval_set, ours["f1"])
    if args.json:  # the JSON alone on stdout, the table beside it on stderr
        print(render(result), file=sys.stderr)
        print(json.dumps(result))
    else:
        print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
