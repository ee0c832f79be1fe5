"""A user's watch in the config: loaded without code, or refused at start with the line at fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifiers.watches import compile_watch, score
from newswatch.cli import app
from newswatch.config import ConfigError, load_settings

GOOD = """\
[watches.chip_export_controls]
title = "Export controls on chips"
threshold = 5.0
min_terms = 2
context = ["chip(s) | semiconductor*"]
exclude = ["potato chip(s)"]

[watches.chip_export_controls.terms]
"export control(s)" = 3.0
"entity list" = 3.0
"chip(s) | semiconductor*" = 1.0
"""


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEWSWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "newswatch.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    return str(error.value)


def test_a_user_watch_replaces_the_defaults_and_scores(tmp_path: Path) -> None:
    path = tmp_path / "newswatch.toml"
    path.write_text(GOOD, encoding="utf-8")
    settings = load_settings(path)
    assert list(settings.watches) == ["chip_export_controls"]
    spec = settings.watches["chip_export_controls"]
    assert spec.exclusions() == {"potato chip(s)": None}  # a plain list vetoes
    watch = compile_watch("chip_export_controls", spec)
    m = score(
        watch,
        "New export controls on chips",
        "The ministry put two chip designers on the entity list.",
    )
    assert m.matched, m.reason
    assert not score(watch, "Potato chips", "Export controls on potato chips, entity list.").matched


@pytest.mark.parametrize(
    ("bad_line", "line", "key", "message"),
    [
        ('"tra*de" = 1.5', 12, "watches.chip_export_controls.terms.tra*de", "bad word 'tra*de'"),
        ('"a*" = 1.0', 12, "watches.chip_export_controls.terms.a*", "shorter than 2"),
        ('"$money" = 1.0', 12, "watches.chip_export_controls.terms.$money", "character '$'"),
        ('"steal* | " = 1.0', 12, "watches.chip_export_controls.terms.steal* | ", "empty phrase"),
        ('"entity lists" = 0', 12, "watches.chip_export_controls.terms.entity lists", "> 0"),
    ],
)
def test_a_malformed_phrase_names_its_line(
    tmp_path: Path, bad_line: str, line: int, key: str, message: str
) -> None:
    text = problems(tmp_path, GOOD + bad_line + "\n")
    assert f"line {line}: {key}:" in text, text
    assert message in text


def test_errors_in_inline_tables_lists_and_names_give_their_line(tmp_path: Path) -> None:
    text = problems(
        tmp_path,
        '[watches.chips]\ntitle = "Chips"\nthreshold = 4\n'
        'terms = { "chip(s)" = 1.0, "semi*conductor" = 2.0 }\n'
        'context = ["chip*", "(s)"]\n'
        'exclude = { "potato chip(s)" = "never" }\n'
        'colour = "red"\n',
    )
    assert "line 4: watches.chips.terms.semi*conductor: " in text
    assert "line 5: watches.chips.context.1: " in text
    assert "line 6: watches.chips.exclude.potato chip(s): " in text and '"veto"' in text
    assert "line 7: watches.chips.colour: Extra inputs are not permitted" in text

    text = problems(
        tmp_path,
        '[watches."chip controls"]\ntitle = "x"\nthreshold = 1\nterms = { "chip(s)" = 1.0 }\n',
    )
    assert "line 1: watches.chip controls: " in text and "letters, digits" in text


def test_missing_required_settings_are_named(tmp_path: Path) -> None:
    text = problems(tmp_path, '[watches.chips]\ntitle = "Chips"\n')
    assert "watches.chips.threshold: Field required" in text
    assert "watches.chips.terms: Field required" in text


def test_commands_refuse_a_malformed_watch_before_running(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD + '"tra*de" = 1.5\n', encoding="utf-8")
    for args in (["watches", "check", "text"], ["eval", "classify", "x.jsonl"], ["run"]):
        result = CliRunner().invoke(app, [*args, "--config", str(path)])
        assert result.exit_code == 2, (args, result.output)
        assert "configuration error" in result.output and "line 12" in result.output
        assert "Traceback" not in result.output
