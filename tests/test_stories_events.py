"""Story features and decisions as pure functions: no database, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from classifiers.events import (
    EventFeatures,
    FrequencyTable,
    add_to_centroid,
    body_lines,
    cosine,
    extract_features,
    lead_vector,
    normalise_term,
    text_vector,
    title_from_text,
    top_terms,
)
from classifiers.stories import (
    EVENT_WINDOW_DAYS,
    EventCandidate,
    StorylineCandidate,
    best_storyline,
    decide_alert,
    decide_update_alert,
    event_threshold,
    same_event_story,
    text_change,
)
from newswatch.models import Match
from newswatch.newsroom import load_later_articles, load_sample_articles

T0 = datetime(2026, 11, 3, 12, tzinfo=UTC)
MATCHED = Match("ip_theft", 8.0, 4.0, True, ("trade secrets",))
UNMATCHED = Match("ip_theft", 1.0, 4.0, False, ())


def test_terms_are_normalised_for_case_possessives_and_plurals() -> None:
    assert normalise_term("Huawei’s") == normalise_term("huawei") == "huawei"
    assert normalise_term("hackers") == "hacker"
    assert normalise_term("companies") == "company"
    assert normalise_term("business") == "business"  # not a plural


def test_entities_are_capitalised_words_inside_sentences_acronyms_and_numbers() -> None:
    f = extract_features(
        "Engineer Charged",
        "Prosecutors said Daniel Lind copied 14,000 files. The files went to Teravolt and APT10.",
    )
    assert {"daniel", "lind", "14,000", "teravolt", "apt10"} <= f.entities
    assert "prosecutor" not in f.entities  # capitalised only as the first word
    assert "the" not in f.text_terms  # stopword
    assert f.lead_terms["engineer"] == 1  # the title is part of the lead


def test_datelines_and_date_lines_are_not_features() -> None:
    text = "date 2019-05-15 WASHINGTON, May 15 (Reuters) - The Commerce Department added Huawei."
    assert body_lines(text) == ["The Commerce Department added Huawei."]
    assert body_lines("PORT ANSEL, Aldermark — A former engineer was charged on Tuesday.") == [
        "A former engineer was charged on Tuesday."
    ]
    assert body_lines("The FBI said on Monday that hackers — many of them — were charged.")[0]
    assert "washington" not in extract_features("", text).text_terms


def test_title_from_text_skips_clutter_lines() -> None:
    text = "Advertisement\nShare\nCapital One data breach hits 100 million people\nBody text."
    assert title_from_text(text) == "Capital One data breach hits 100 million people"


def test_features_round_trip_through_json() -> None:
    f = extract_features("A title here", "Body with Names like Solvane and numbers 42.")
    assert EventFeatures.from_json(f.to_json()) == f


def _stats(*features: EventFeatures) -> FrequencyTable:
    counts: dict[str, int] = {}
    for f in features:
        for term in f.vocabulary():
            counts[term] = counts.get(term, 0) + 1
    return FrequencyTable(len(features), counts)


def _samples() -> dict[str, EventFeatures]:
    articles = [*load_sample_articles(), *load_later_articles()]
    return {a.slug: extract_features(a.title, a.text) for a in articles}


def test_reports_of_one_event_are_closer_than_follow_ups_and_other_stories() -> None:
    f = _samples()
    stats = _stats(*f.values())
    original = text_vector(f["solvane-engineer-charged-chip-designs"], stats)
    copy = text_vector(f["courier-port-ansel-engineer-accused-chip-designs"], stats)
    follow_up = text_vector(f["solvane-engineer-pleads-not-guilty"], stats)
    other = text_vector(f["corvane-helix-cell-trade-secrets-verdict"], stats)
    assert cosine(original, copy) > 0.9
    assert cosine(original, copy) > cosine(original, follow_up) > cosine(original, other)
    assert cosine(original, original) == pytest.approx(1.0)


def test_a_follow_up_finds_its_storyline_by_its_lead() -> None:
    f = _samples()
    stats = _stats(*f.values())
    lines = [
        StorylineCandidate(1, lead_vector(f["solvane-engineer-charged-chip-designs"], stats)),
        StorylineCandidate(2, lead_vector(f["corvane-helix-cell-trade-secrets-verdict"], stats)),
        StorylineCandidate(3, lead_vector(f["st-aldric-hospital-ransomware-attack"], stats)),
    ]
    found = best_storyline(lead_vector(f["solvane-engineer-pleads-not-guilty"], stats), lines)
    assert found is not None and found[0] == 1
    unrelated = lead_vector(f["mariners-land-valdane-deadline-trade"], stats)
    assert best_storyline(unrelated, lines) is None


def test_same_event_needs_more_similarity_as_days_pass_and_stops_at_the_window() -> None:
    v = {"solvane": 0.8, "lind": 0.6}
    close = {"solvane": 0.8, "lind": 0.6}
    assert event_threshold(2) > event_threshold(0)
    same_day = EventCandidate(7, T0, close)
    assert same_event_story(v, T0 + timedelta(hours=5), [same_day]) == (7, pytest.approx(1.0))
    late = EventCandidate(7, T0 - timedelta(days=EVENT_WINDOW_DAYS + 1), close)
    assert same_event_story(v, T0, [late]) is None
    weak = EventCandidate(8, T0, {"solvane": 0.1, "other": 0.99})
    assert same_event_story(v, T0, [weak]) is None


def test_the_clearest_candidate_story_wins() -> None:
    v = {"a": 1.0}
    a = EventCandidate(1, T0 - timedelta(days=2), {"a": 0.5, "x": 0.866})
    b = EventCandidate(2, T0, {"a": 0.45, "y": 0.893})
    # b is less similar but published the same day: its margin over its threshold is larger.
    assert same_event_story(v, T0, [a, b]) == (2, pytest.approx(0.45))


@pytest.mark.parametrize(
    ("matches", "copy", "alerted", "in_line", "expected"),
    [
        ([MATCHED], False, False, False, "new_story"),
        ([MATCHED], False, False, True, "development"),
        ([MATCHED], True, False, False, None),  # a copy never alerts
        ([MATCHED], False, True, False, None),  # a further article of an alerted story
        ([UNMATCHED], False, False, True, None),  # no watch, no alert
        ([], False, False, False, None),
    ],
)
def test_alert_decision(
    matches: list[Match], copy: bool, alerted: bool, in_line: bool, expected: str | None
) -> None:
    assert (
        decide_alert(matches, is_copy=copy, story_alerted=alerted, in_storyline=in_line) == expected
    )


OLD = (
    "Daniel Lind, 41, faces six counts of theft of trade secrets.\n\n"
    "He was released on a 250,000-crown bond after a brief appearance before a judge."
)


def test_cosmetic_changes_are_not_material() -> None:
    assert not text_change(OLD, OLD.replace("\n\n", "\n")).material
    assert not text_change(OLD, "Updated 14:05 GMT\n" + OLD).material
    assert not text_change(OLD, OLD.replace("brief appearance", "short appearance")).material
    assert not text_change(OLD, OLD.upper()).material
    # A removed sentence says nothing new.
    assert not text_change(OLD, OLD.split("\n\n")[0]).material


def test_new_facts_and_corrected_figures_are_material() -> None:
    corrected = OLD.replace("six counts", "nine counts")
    assert not text_change(OLD, corrected).material  # one word: "nine"
    figure = OLD.replace("250,000", "500,000")
    assert text_change(OLD, figure).new_numbers == ("500",)  # "500,000" -> "500 000"
    assert text_change(OLD, figure).material
    added = OLD + "\n\nProsecutors said the files were found on a server owned by Teravolt."
    change = text_change(OLD, added)
    assert change.material and {"server", "teravolt"} <= set(change.new_words)
    assert decide_update_alert([MATCHED], change) == "development"
    assert decide_update_alert([UNMATCHED], change) is None
    assert decide_update_alert([MATCHED], text_change(OLD, OLD)) is None


def test_centroid_sums_and_stays_bounded() -> None:
    c = add_to_centroid({}, {"a": 0.6, "b": 0.8}, keep=10)
    c = add_to_centroid(c, {"a": 1.0}, keep=2)
    assert c == {"a": pytest.approx(1.6), "b": pytest.approx(0.8)}
    assert add_to_centroid(c, {"z": 0.1}, keep=2) == c
    assert top_terms({"b": 1.0, "a": 1.0, "c": 0.5}, 2) == ["a", "b"]
