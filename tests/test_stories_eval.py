"""`newswatch eval stories`: record parsing, the measures, and the shared dev set's targets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.pipeline import Placement
from newswatch.cli import app
from newswatch.newsroom import load_later_articles, load_sample_articles
from newswatch.story_eval import (
    StoryDataError,
    StoryRecord,
    evaluate_stories,
    parse_date,
    parse_story_records,
)
from tests.conftest import SHARED

DEV = SHARED / "eval" / "stories" / "dev.jsonl"
D = datetime(2020, 1, 1, tzinfo=UTC)


def _record(i: int, event: str, storyline: str | None) -> StoryRecord:
    return StoryRecord(str(i), f"https://x.test/{i}", "text", event, storyline, D)


def _placed(
    story: int, *, new: bool, earlier: tuple[int, ...] = (), alert: bool = False
) -> Placement:
    return Placement(
        article_id=0,
        story_id=story,
        storyline_id=None,
        duplicate=False,
        new_story=new,
        matched=alert,
        earlier_stories=earlier,
        alert_id=1 if alert else None,
    )


def test_measures_on_a_known_clustering() -> None:
    # Events a (3 articles), b (1, same storyline as a), c (1, no storyline).
    records = [
        _record(0, "a", "L"),
        _record(1, "a", "L"),
        _record(2, "a", "L"),
        _record(3, "b", "L"),
        _record(4, "c", None),
    ]
    placements = [
        _placed(1, new=True, alert=True),
        _placed(1, new=False),
        _placed(2, new=True, earlier=(1,)),  # a split of event a
        _placed(3, new=True, earlier=(2, 1), alert=True),  # b links to both a stories
        _placed(4, new=True, earlier=(1,)),  # c links into L: a wrong link
    ]
    result = evaluate_stories(records, placements)
    assert (result.articles, result.events, result.stories) == (5, 3, 4)
    assert result.bcubed_precision == pytest.approx(1.0)
    # recall: a's articles see 2/3, 2/3, 1/3; b and c see 1.
    assert result.bcubed_recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    assert result.pairwise_precision == 1.0 and result.pairwise_recall == pytest.approx(1 / 3)
    assert result.alerts == 2 and result.relevant_events == 2
    # Links: 2->1 (same storyline), 3->2, 3->1 (right), 4->1 (wrong): precision 3/4.
    assert result.storyline_links == 4 and result.storyline_precision == pytest.approx(0.75)
    # b's storyline had one earlier event (a), found.
    assert result.storyline_recall == 1.0


def test_records_are_validated_with_their_line() -> None:
    ok = '{"text": "t", "event": "e", "storyline": null, "event_date": "2019-05"}'
    [record] = parse_story_records([ok])
    assert record.published_at == parse_date("2019-05-01")
    with pytest.raises(StoryDataError, match="line 2: `event`"):
        parse_story_records([ok, '{"text": "t", "event_date": "2019-05-01"}'])
    with pytest.raises(StoryDataError, match="line 1: `event_date`"):
        parse_story_records(['{"text": "t", "event": "e", "event_date": "May 2019"}'])
    with pytest.raises(StoryDataError, match="invalid JSON"):
        parse_story_records(["{"])


def test_cli_replays_the_demo_articles_as_labeled_records(tmp_path: Path) -> None:
    articles = sorted([*load_sample_articles(), *load_later_articles()], key=lambda a: a.published)
    path = tmp_path / "demo.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for a in articles:
            event = a.syndicated_from or a.slug
            line = "solvane" if a.story_key == "solvane-chip-designs" else None
            out.write(
                json.dumps(
                    {
                        "id": a.slug,
                        "text": f"{a.title}\n\n{a.text}",
                        "event": event,
                        "storyline": line,
                        "event_date": a.published.date().isoformat(),
                    }
                )
                + "\n"
            )
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "stories", str(path), "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in (
        "articles", "events", "stories", "bcubed_precision", "bcubed_recall", "bcubed_f1",
        "pairwise_f1", "alerts", "relevant_events", "alerts_per_relevant_event",
        "storyline_precision", "storyline_recall",
    ):  # fmt: skip
        assert key in data, key
    assert data["articles"] == len(articles) and data["copies"] == 1
    assert data["bcubed_f1"] == 1.0 and data["alerts_per_relevant_event"] == 1.0
    assert data["storyline_recall"] == 1.0  # the plea links to the indictment

    table = runner.invoke(app, ["eval", "stories", str(path)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "B-cubed F1" in table.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n', encoding="utf-8")
    refused = runner.invoke(app, ["eval", "stories", str(bad)])
    assert refused.exit_code == 2 and "line 1" in refused.output


@pytest.mark.skipif(not DEV.exists(), reason=f"{DEV} is absent")
def test_shared_dev_set_meets_the_targets() -> None:
    result = CliRunner().invoke(app, ["eval", "stories", str(DEV), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["articles"] == 91 and data["events"] == 24
    assert data["bcubed_f1"] >= 0.90
    assert data["alerts_per_relevant_event"] <= 1.1
    assert data["storyline_precision"] >= 0.8 and data["storyline_recall"] >= 0.8
