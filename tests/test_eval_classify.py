"""`newswatch eval classify`: labeled records, confusion counts, errors with evidence, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifiers.watch_spec import WatchSpec
from classifiers.watches import compile_watch
from newswatch.cli import app
from newswatch.evaluate import (
    Confusion,
    EvalDataError,
    evaluate,
    parse_records,
    split_title,
)

DEV_SET = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "classification"
DEV_SET = DEV_SET / "dev.jsonl"

CONFIG = """
[watches.secrets]
title = "Trade secrets"
threshold = 3.0
terms = { "trade secret(s)" = 3.0 }

[watches.tariffs]
title = "Tariffs"
threshold = 2.0
terms = { "tariff(s)" = 2.0 }
"""

RECORDS = [
    # tp for secrets, tn for tariffs
    {"id": "r1", "text": "Engineer charged\nHe stole trade secrets.", "secrets": 1, "tariffs": 0},
    # fn for secrets (no term), tp for tariffs
    {"id": "r2", "text": "Tariffs rise\nThe levy rose again.", "secrets": 1, "tariffs": 1},
    # fp for secrets, fp for tariffs; "sports" is labeled but not configured
    {
        "id": "r3",
        "text": "Guide\nHow to keep trade secrets and pay tariffs.",
        "secrets": 0,
        "tariffs": 0,
        "sports": 1,
    },
    {"id": "r4", "text": "Weather\nSunny all week.", "secrets": 0, "tariffs": 0, "sports": 0},
]


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEWSWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def write(
    tmp_path: Path, records: list[dict[str, object]], config: str = CONFIG
) -> tuple[Path, Path]:
    data = tmp_path / "labeled.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    cfg = tmp_path / "watches.toml"
    cfg.write_text(config, encoding="utf-8")
    return data, cfg


def test_confusion_figures() -> None:
    c = Confusion()
    for predicted, gold in [
        (True, True),
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    ]:
        c.add(predicted, gold)
    assert (c.tp, c.fp, c.fn, c.tn) == (2, 1, 1, 1)
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(2 / 3)
    assert Confusion().f1 == 0.0  # no division by zero on an empty watch


def test_title_is_the_first_line() -> None:
    assert split_title("Headline\nBody one.\nBody two.") == ("Headline", "Body one.\nBody two.")
    assert split_title("\n  Only a title  ") == ("Only a title", "")


def test_bad_records_are_refused_with_their_line() -> None:
    with pytest.raises(EvalDataError, match="line 2: invalid JSON"):
        parse_records(['{"text": "a", "w": 1}', "{oops"], "f.jsonl")
    with pytest.raises(EvalDataError, match="line 1: no 'text'"):
        parse_records(['{"w": 1}'])
    with pytest.raises(EvalDataError, match="line 1: expected a JSON object"):
        parse_records(["[1, 2]"])
    with pytest.raises(EvalDataError, match="no records"):
        parse_records(["", "  "])


def test_labels_are_0_1_fields_and_other_fields_are_ignored() -> None:
    (rec,) = parse_records(['{"id": 7, "text": "t", "a": 1, "b": false, "why": "x", "n": 5}'])
    assert rec.id == "7"
    assert dict(rec.labels) == {"a": True, "b": False}


def test_evaluate_reports_watches_both_configured_and_labeled() -> None:
    records = parse_records([json.dumps(r) for r in RECORDS])
    watches = [
        compile_watch("secrets", WatchSpec(title="S", threshold=3, terms={"trade secret(s)": 3})),
        compile_watch("tariffs", WatchSpec(title="T", threshold=2, terms={"tariff(s)": 2})),
        compile_watch("unlabeled", WatchSpec(title="U", threshold=1, terms={"x": 1})),
    ]
    result = evaluate(watches, records)
    assert [r.watch.name for r in result.results] == ["secrets", "tariffs"]
    assert result.unconfigured == ()  # "sports" is not in every record
    assert result.unlabeled == ("unlabeled",)
    secrets, tariffs = result.results
    assert (secrets.confusion.tp, secrets.confusion.fp, secrets.confusion.fn) == (1, 1, 1)
    assert (tariffs.confusion.tp, tariffs.confusion.fp, tariffs.confusion.tn) == (1, 1, 2)
    kinds = {(m.kind, m.record.id) for m in secrets.misses}
    assert kinds == {("FP", "r3"), ("FN", "r2")}
    fp = next(m for m in secrets.misses if m.kind == "FP")
    assert fp.match.evidence and "trade secrets" in fp.match.evidence[0].terms


def test_a_watch_labeled_in_some_records_only_is_an_error() -> None:
    records = parse_records([json.dumps(r) for r in RECORDS])
    watch = compile_watch("sports", WatchSpec(title="S", threshold=1, terms={"goal(s)": 1}))
    with pytest.raises(EvalDataError, match="'sports' is labeled in 2 of 4 records; not in r1, r2"):
        evaluate([watch], records)


def test_cli_json_has_the_documented_shape(tmp_path: Path) -> None:
    data, cfg = write(tmp_path, RECORDS)
    result = CliRunner().invoke(app, ["eval", "classify", str(data), "-c", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["records"] == 4
    assert set(report["watches"]) == {"secrets", "tariffs"}
    secrets = report["watches"]["secrets"]
    assert set(secrets) == {"precision", "recall", "f1", "tp", "fp", "fn", "tn"}
    assert (secrets["tp"], secrets["fp"], secrets["fn"], secrets["tn"]) == (1, 1, 1, 1)
    assert secrets["precision"] == 0.5 and secrets["recall"] == 0.5 and secrets["f1"] == 0.5


def test_cli_errors_list_false_positives_and_negatives_with_evidence(tmp_path: Path) -> None:
    data, cfg = write(tmp_path, RECORDS)
    result = CliRunner().invoke(app, ["eval", "classify", str(data), "-c", str(cfg), "--errors"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "secrets" in out and "tariffs" in out and "precision" in out
    assert "FP r3" in out and "FN r2" in out
    assert "score 3.0 ≥ 3" in out  # the reason of the false positive
    assert "How to keep trade secrets and pay tariffs." in out  # its evidence sentence
    assert "no terms found" in out  # why r2 was missed

    as_json = CliRunner().invoke(
        app, ["eval", "classify", str(data), "-c", str(cfg), "--errors", "--json"]
    )
    errors = json.loads(as_json.output)["watches"]["secrets"]["errors"]
    assert {(e["kind"], e["id"]) for e in errors} == {("FP", "r3"), ("FN", "r2")}
    fp = next(e for e in errors if e["kind"] == "FP")
    assert fp["evidence"][0]["terms"] == ["trade secrets"]


def test_cli_refuses_unusable_input(tmp_path: Path) -> None:
    data, cfg = write(tmp_path, [{"id": "x", "text": "t", "other": 1}])
    result = CliRunner().invoke(app, ["eval", "classify", str(data), "-c", str(cfg)])
    assert result.exit_code == 2
    assert "nothing to evaluate" in result.output
    data.write_text('{"text": "ok", "secrets": 1}\nnot json\n')
    result = CliRunner().invoke(app, ["eval", "classify", str(data), "-c", str(cfg)])
    assert result.exit_code == 2 and "line 2" in result.output
    result = CliRunner().invoke(app, ["eval", "classify", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2 and "cannot read" in result.output


@pytest.mark.skipif(not DEV_SET.exists(), reason="shared evaluation data not available")
def test_default_watches_reach_the_quality_bar_on_dev() -> None:
    result = CliRunner().invoke(app, ["eval", "classify", str(DEV_SET), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["records"] == 109
    assert set(report["watches"]) == {"ip_theft", "trade_deal"}
    for name, figures in report["watches"].items():
        assert figures["precision"] >= 0.9 and figures["f1"] >= 0.9, (name, figures)
