"""Article-extraction evaluation: the ScrapingHub benchmark's metric and `eval extract`.

Layout read (the ScrapingHub article-extraction benchmark's): a directory with
`html/KEY.html.gz` (or `KEY.html`, gzip or not, directly in it) and, optionally,
`ground-truth.json` (`{KEY: {"articleBody": ..., "url": ...}}`) beside the pages or one
level up. Predictions are written as `{KEY: {"articleBody": TEXT}}` so the benchmark's own
scorer can read them.

The metric, implemented from the benchmark's description: per page, the extracted and the
reference body are compared as multisets of word 4-shingles (tokens: `\\w+`); the page's
tp/fp/fn are normalised to sum to 1 so every page weighs the same; precision and recall are
averaged over pages, F1 is their harmonic mean. One reading had to be chosen: an empty text
has no shingles at all (rather than one empty shingle), so an empty prediction counts
against recall only.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors.extract import ExtractionError, extract_article

_TOKEN = re.compile(r"\w+")
SHINGLE = 4
# A fixed fetch time: the benchmark pages are older than this, and a fixed value keeps the
# date-bounding logic (and so the output) the same on every run.
EVAL_FETCHED_AT = datetime(2025, 1, 1, tzinfo=UTC)

Counts = tuple[float, float, float]  # one page's tp, fp, fn, normalised to sum to 1


class EvalDataError(ValueError):
    """The directory is not an evaluation set that can be read."""


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def shingles(words: Sequence[str], n: int = SHINGLE) -> Counter[tuple[str, ...]]:
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


def _share(hit: float, miss: float, other_miss: float) -> float:
    if miss == 0 and other_miss == 0:
        return 1.0
    if hit == 0 and miss == 0:
        return 0.0
    return hit / (hit + miss)


def scores(pages: Sequence[Counts]) -> tuple[float, float, float]:
    """(precision, recall, F1) averaged over pages as the benchmark prescribes."""
    precisions = [_share(tp, fp, fn) for tp, fp, fn in pages if tp + fp > 0]
    recalls = [_share(tp, fn, fp) for tp, fp, fn in pages if tp + fn > 0]
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def bootstrap_std(
    pages: Sequence[Counts], rounds: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Standard deviation of (precision, recall, F1) over resamples of the pages."""
    if len(pages) < 2:
        return (0.0, 0.0, 0.0)
    rng = random.Random(seed)
    samples = [scores(rng.choices(pages, k=len(pages))) for _ in range(rounds)]
    stds: list[float] = []
    for column in zip(*samples, strict=True):
        mean = sum(column) / len(column)
        stds.append((sum((x - mean) ** 2 for x in column) / (len(column) - 1)) ** 0.5)
    return stds[0], stds[1], stds[2]


@dataclass(frozen=True, slots=True)
class Score:
    pages: int
    precision: float
    recall: float
    f1: float
    precision_std: float
    recall_std: float
    f1_std: float
    accuracy: float  # share of pages whose token lists are identical

    def as_json(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            **{k: round(v, 4) for k, v in self._figures().items()},
        }

    def _figures(self) -> dict[str, float]:
        return {
            "f1": self.f1,
            "precision": self.precision,
            "recall": self.recall,
            "f1_std": self.f1_std,
            "precision_std": self.precision_std,
            "recall_std": self.recall_std,
            "accuracy": self.accuracy,
        }


def score(truth: Mapping[str, str], predicted: Mapping[str, str]) -> Score:
    """The benchmark's figures for `predicted` bodies against `truth`, both by key.

    A key of `truth` with no prediction counts as an empty prediction.
    """
    keys = sorted(truth)
    pages = [page_counts(truth[k], predicted.get(k, "")) for k in keys]
    p, r, f1 = scores(pages)
    sp, sr, sf = bootstrap_std(pages)
    identical = sum(tokens(truth[k]) == tokens(predicted.get(k, "")) for k in keys)
    return Score(len(keys), p, r, f1, sp, sr, sf, identical / len(keys) if keys else 0.0)


@dataclass(frozen=True, slots=True)
class EvalPage:
    key: str
    html: bytes
    url: str


@dataclass(frozen=True, slots=True)
class EvalSet:
    pages: list[EvalPage]
    truth: dict[str, str] | None  # KEY -> reference body, when ground truth is present


_SUFFIXES = (".html.gz", ".htm.gz", ".html", ".htm")


def _page_key(path: Path) -> str | None:
    name = path.name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


def _read_page(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise EvalDataError(f"{path}: broken gzip file ({exc})") from None
    return raw


def _ground_truth(directory: Path) -> dict[str, Any] | None:
    for candidate in (directory / "ground-truth.json", directory.parent / "ground-truth.json"):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise EvalDataError(f"{candidate}: not readable JSON ({exc})") from None
            if not isinstance(data, dict):
                raise EvalDataError(f"{candidate}: expected an object keyed by page")
            return data
    return None


def load_eval_set(directory: Path) -> EvalSet:
    """The pages under `directory` (or its `html/`), and the ground truth if present."""
    if not directory.is_dir():
        raise EvalDataError(f"{directory}: not a directory")
    html_dir = directory / "html" if (directory / "html").is_dir() else directory
    found = sorted((key, path) for path in html_dir.iterdir() if (key := _page_key(path)))
    if not found:
        raise EvalDataError(f"{html_dir}: no .html or .html.gz files")
    raw_truth = _ground_truth(html_dir)
    truth: dict[str, str] | None = None
    urls: dict[str, str] = {}
    if raw_truth is not None:
        truth = {}
        for key, entry in raw_truth.items():
            body = entry.get("articleBody") if isinstance(entry, dict) else None
            if not isinstance(body, str):
                raise EvalDataError(f"ground truth for {key!r} has no articleBody text")
            truth[key] = body
            if isinstance(entry.get("url"), str):
                urls[key] = entry["url"]
    pages = [
        EvalPage(key, _read_page(path), urls.get(key) or f"https://eval.example/{key}")
        for key, path in found
    ]
    if truth is not None:
        present = {page.key for page in pages}
        truth = {key: body for key, body in truth.items() if key in present}
    return EvalSet(pages, truth)


# The benchmark's pages are UTF-8 (its README says so); telling the extractor avoids guessing.
EVAL_CONTENT_TYPE = "text/html; charset=utf-8"


def newswatch_text(page: EvalPage) -> str:
    """newswatch's article text for an evaluation page ("" when nothing is extracted)."""
    try:
        article = extract_article(
            page.html,
            url=page.url,
            source="eval",
            fetched_at=EVAL_FETCHED_AT,
            content_type=EVAL_CONTENT_TYPE,
        )
    except ExtractionError:
        return ""
    return article.text


@dataclass(slots=True)
class ExtractEvalResult:
    predictions: dict[str, str]
    failures: list[str] = field(default_factory=list)  # keys with no text extracted
    score: Score | None = None


def evaluate_extraction(
    eval_set: EvalSet, extract: Callable[[EvalPage], str] = newswatch_text
) -> ExtractEvalResult:
    predictions = {page.key: extract(page) for page in eval_set.pages}
    failures = [key for key, text in predictions.items() if not text]
    result = ExtractEvalResult(predictions, failures)
    if eval_set.truth:
        result.score = score(eval_set.truth, predictions)
    return result


def predictions_json(predictions: Mapping[str, str]) -> str:
    return json.dumps(
        {key: {"articleBody": text} for key, text in sorted(predictions.items())},
        ensure_ascii=False,
        indent=1,
    )


def render_score(name: str, result: Score) -> str:
    return (
        f"{name}: F1 {result.f1:.3f} ± {result.f1_std:.3f}, precision {result.precision:.3f}"
        f" ± {result.precision_std:.3f}, recall {result.recall:.3f} ± {result.recall_std:.3f},"
        f" accuracy {result.accuracy:.3f} ({result.pages} pages)"
    )
