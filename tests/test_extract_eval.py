"""The extraction benchmark's metric and `newswatch eval extract`.

Small pages written for these tests; the real benchmark pages (../shared/eval/extraction)
are used only where present, on a sample, and the test is skipped without them.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newswatch.cli import app
from newswatch.extract_eval import (
    EvalDataError,
    load_eval_set,
    page_counts,
    score,
    scores,
    shingles,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "extraction"

STORY = (
    "Dock workers at the eastern terminal returned to work on Monday after a deal on shift "
    "patterns was reached with the port authority late on Sunday evening. "
)


def test_metric_perfect_and_disjoint() -> None:
    assert page_counts("a b c d e", "a b c d e") == (1.0, 0.0, 0.0)
    assert page_counts("a b c d", "w x y z") == (0.0, 0.5, 0.5)


def test_metric_counts_repeats_as_multisets() -> None:
    # truth: abcd bcde cdef; prediction: abcd (twice) bcda cdab dabc -> tp 1, fp 4, fn 2
    tp, fp, fn = page_counts("a b c d e f", "a b c d a b c d")
    assert (tp, fp, fn) == pytest.approx((1 / 7, 4 / 7, 2 / 7))
    assert shingles(["a", "b"]) == {("a", "b"): 1}  # fewer than four tokens: one shingle
    assert shingles([]) == {}


def test_scores_average_per_page() -> None:
    perfect = (1.0, 0.0, 0.0)
    empty_prediction = (0.0, 0.0, 1.0)  # no precision figure, recall 0
    p, r, f1 = scores([perfect, empty_prediction])
    assert (p, r) == (1.0, 0.5)
    assert f1 == pytest.approx(2 / 3)
    figures = score({"a": "one two three four five", "b": "six seven eight nine"}, {"a": ""})
    assert (figures.precision, figures.recall, figures.accuracy) == (0.0, 0.0, 0.0)


def _page(title: str, body: str) -> str:
    paragraphs = "".join(f"<p>{body} {i}</p>" for i in range(3))
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        f"<footer>All rights reserved</footer></body></html>"
    )


def _write_set(root: Path, with_truth: bool) -> None:
    html = root / "html"
    html.mkdir(parents=True)
    strike = _page("Port strike ends after deal on shifts", STORY)
    cranes = _page("Cranes idle as crane crews stay out", STORY.replace("Dock", "Crane"))
    (html / "strike.html.gz").write_bytes(gzip.compress(strike.encode()))
    (html / "cranes.html").write_text(cranes)
    (html / "notes.txt").write_text("not a page")
    if with_truth:
        truth = {
            "strike": {"articleBody": "\n".join(f"{STORY} {i}" for i in range(3)), "url": "x"},
            "cranes": {"articleBody": "something else entirely, nothing alike", "url": "y"},
        }
        (root / "ground-truth.json").write_text(json.dumps(truth))


def test_eval_extract_writes_predictions_and_scores(tmp_path: Path) -> None:
    _write_set(tmp_path / "set", with_truth=True)
    output = tmp_path / "preds.json"
    result = CliRunner().invoke(
        app, ["eval", "extract", str(tmp_path / "set"), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    predictions = json.loads(output.read_text(encoding="utf-8"))
    assert sorted(predictions) == ["cranes", "strike"]
    assert predictions["strike"]["articleBody"].startswith("Dock workers at the eastern")
    assert "Home" not in predictions["strike"]["articleBody"]
    assert "2 pages, 0 without text" in result.output
    assert "F1" in result.output and "(2 pages)" in result.output


def test_eval_extract_without_truth_only_writes(tmp_path: Path) -> None:
    _write_set(tmp_path / "set", with_truth=False)
    output = tmp_path / "preds.json"
    result = CliRunner().invoke(
        app, ["eval", "extract", str(tmp_path / "set" / "html"), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(output.read_text())) == ["cranes", "strike"]
    assert "F1" not in result.output


def test_eval_extract_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        app, ["eval", "extract", str(tmp_path / "empty"), "-o", str(tmp_path / "p.json")]
    )
    assert result.exit_code == 2
    assert "no .html or .html.gz files" in result.output
    assert not (tmp_path / "p.json").exists()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.html.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(EvalDataError, match="broken gzip"):
        load_eval_set(broken)


@pytest.mark.skipif(
    not (SHARED / "ground-truth.json").is_file(), reason="benchmark data not present"
)
def test_eval_extract_on_a_sample_of_the_benchmark(tmp_path: Path) -> None:
    truth = json.loads((SHARED / "ground-truth.json").read_text(encoding="utf-8"))
    sample = sorted(truth)[:12]
    (tmp_path / "html").mkdir()
    for key in sample:
        shutil.copy(SHARED / "html" / f"{key}.html.gz", tmp_path / "html" / f"{key}.html.gz")
    (tmp_path / "ground-truth.json").write_text(json.dumps({k: truth[k] for k in sample}))
    output = tmp_path / "preds.json"
    result = CliRunner().invoke(app, ["eval", "extract", str(tmp_path), "-o", str(output)])
    assert result.exit_code == 0, result.output
    predictions = json.loads(output.read_text(encoding="utf-8"))
    assert sorted(predictions) == sample
    figures = score(
        {k: truth[k]["articleBody"] for k in sample},
        {k: v["articleBody"] for k, v in predictions.items()},
    )
    assert figures.f1 > 0.9
