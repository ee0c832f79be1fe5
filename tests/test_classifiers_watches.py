"""Watches: spec validation, phrase syntax, scoring rules, the default watches, dev-set quality."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from classifiers.text import split_sentences, words
from classifiers.watch_spec import WatchConfigError, WatchSpec, parse_watches, watches_from_toml
from classifiers.watches import Watch, classify, compile_watch, parse_expression, score
from newswatch.models import Match

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WATCHES = REPO / "newswatch" / "defaults.toml"
DEV_SET = Path(__file__).parents[1].parent / "shared" / "eval" / "classification" / "dev.jsonl"

INDICTMENT_TITLE = "Engineer charged with stealing trade secrets for rival"
INDICTMENT = """SAN FRANCISCO - A former engineer at a battery maker was indicted on Thursday on
charges of economic espionage and theft of trade secrets, federal prosecutors said.
The indictment alleges that he downloaded thousands of confidential files describing the
company's cell chemistry before resigning to join a competitor overseas.
Prosecutors said the stolen designs were worth more than $100 million in research and development.
"Stealing proprietary technology harms American workers," the U.S. Attorney said in a statement.
If convicted, he faces up to 15 years in prison for each count of economic espionage."""

RANSOMWARE_TITLE = "Hospital chain hit by ransomware, patient data stolen"
RANSOMWARE = """A ransomware gang stole patient records from a regional hospital chain and
demanded a ransom of $4 million, the company said on Monday.
The attackers encrypted servers and posted samples of the stolen personal information online.
The hospital said no payment card data was taken and it had restored most systems from backups.
Security researchers linked the attack to a criminal group that has hit dozens of hospitals."""

SPORTS_TITLE = "Knicks land guard in trade deal before deadline"
SPORTS = """The Knicks completed a trade deal on Thursday that sends two second-round draft picks
and a reserve forward to Detroit for a veteran guard.
The trade was finalized hours before the league's trade deadline.
The front office said the deal gives the roster the backcourt depth it lacked in the playoffs.
Detroit will use the cap space to pursue free agents in the summer."""

TARIFF_TITLE = "EU retaliates with tariffs on $8 billion of US goods"
TARIFF = """The European Union imposed retaliatory tariffs on $8 billion of American goods on
Friday, in response to new U.S. duties on steel and aluminum imports.
The countermeasures hit motorcycles, bourbon and orange juice.
The European Commission said it would also challenge the U.S. measures at the
World Trade Organization and remained open to trade talks.
Washington said it would respond, raising fears of a wider trade war."""


@pytest.fixture(scope="module")
def defaults() -> dict[str, Watch]:
    return {w.name: w for w in watches_from_toml(DEFAULT_WATCHES.read_text())}


def make(**fields: Any) -> Watch:
    spec: dict[str, Any] = {"title": "Test", "threshold": 3.0, "terms": {"trade secret(s)": 3.0}}
    spec.update(fields)
    return compile_watch("test", WatchSpec.model_validate(spec))


# ----------------------------------------------------------------------------- default watches


def test_trade_secret_indictment_matches_ip_theft_with_evidence(defaults: dict[str, Watch]) -> None:
    m = score(defaults["ip_theft"], INDICTMENT_TITLE, INDICTMENT)
    assert m.matched, m.reason
    assert m.watch == "ip_theft" and m.score >= m.threshold
    assert m.reason.startswith(f"score {m.score:.1f} ≥ ")
    assert 1 <= len(m.evidence) <= 3
    for ev in m.evidence:
        assert ev.terms
        for term in ev.terms:  # the words shown are the words in the sentence
            assert term in ev.sentence
    assert "economic espionage" in m.evidence[0].sentence
    assert "trade secrets" in m.terms  # the words as written, not the rule


def test_ransomware_breach_is_not_ip_theft(defaults: dict[str, Watch]) -> None:
    m = score(defaults["ip_theft"], RANSOMWARE_TITLE, RANSOMWARE)
    assert not m.matched, m.reason


def test_sports_trade_deal_is_not_trade_policy(defaults: dict[str, Watch]) -> None:
    m = score(defaults["trade_deal"], SPORTS_TITLE, SPORTS)
    assert not m.matched, m.reason
    assert "minus" in m.reason  # the sports vocabulary was seen and counted against it


def test_tariff_retaliation_matches_trade_deal(defaults: dict[str, Watch]) -> None:
    ip, trade = classify([defaults["ip_theft"], defaults["trade_deal"]], TARIFF_TITLE, TARIFF)
    assert trade.matched, trade.reason
    assert not ip.matched
    assert "(title)" in trade.reason


def test_classify_returns_one_match_per_watch_in_order(defaults: dict[str, Watch]) -> None:
    watches = [defaults["trade_deal"], defaults["ip_theft"]]
    matches = classify(watches, "", "Nothing to see here.")
    assert [m.watch for m in matches] == ["trade_deal", "ip_theft"]
    assert all(isinstance(m, Match) and not m.matched for m in matches)
    assert matches[0].reason == "no terms found"


# ----------------------------------------------------------------------------- scoring rules


def test_required_context_rejects_without_same_sentence_context() -> None:
    watch = make(context=["indict*", "charged"])
    far = "He was indicted last year. The company guards its trade secrets carefully."
    m = score(watch, "", far)
    assert not m.matched
    assert m.reason == "rejected: no required context in any sentence"
    near = "He was indicted for stealing trade secrets."
    assert score(watch, "", near).matched


def test_exclusion_subtracts_weight() -> None:
    watch = make(exclude={"ransomware": 2.0})
    assert score(watch, "", "They took trade secrets.").score == 3.0
    m = score(watch, "", "They took trade secrets. It was ransomware.")
    assert m.score == pytest.approx(1.0)
    assert not m.matched
    assert "minus 'ransomware' 2.0" in m.reason


def test_exclusion_veto() -> None:
    for exclude in (["sports"], {"sports": "veto"}):
        watch = make(exclude=exclude)
        m = score(watch, "", "Trade secrets galore. Sports pages.")
        assert not m.matched
        assert m.reason == "rejected: excluded by 'sports'"


def test_repeats_diminish_so_one_word_cannot_fire() -> None:
    watch = make(terms={"tariff(s)": 2.0}, threshold=4.0, repeat_decay=0.35)
    once = score(watch, "", "Tariffs rose.")
    ten = score(watch, "", " ".join(["Tariffs rose."] * 10))
    assert once.score == 2.0
    assert 2.0 < ten.score <= round(2.0 / (1 - 0.35), 3) < 4.0  # geometric series bound
    assert not ten.matched
    assert "×10" in ten.reason


def test_min_terms_requires_distinct_terms() -> None:
    watch = make(terms={"tariff(s)": 3.0, "wto": 3.0}, threshold=1.0, min_terms=2)
    m = score(watch, "Tariffs", "Tariffs. More tariffs.")
    assert not m.matched
    assert m.reason.startswith("rejected: 1 distinct term(s), need 2")
    assert score(watch, "", "Tariffs rose. The WTO ruled.").matched


def test_title_weight_multiplies_title_terms() -> None:
    watch = make(title_weight=2.5)
    in_body = score(watch, "A story", "They took trade secrets.")
    in_title = score(watch, "Trade secrets taken", "A story.")
    assert in_body.score == 3.0
    assert in_title.score == 7.5
    assert "'Trade secrets' (title)" in in_title.reason
    # The title is evidence only when no body sentence fired.
    assert in_title.evidence[0].sentence == "Trade secrets taken"


def test_negation_downweights_a_term() -> None:
    watch = make(negation_factor=0.25)
    assert score(watch, "", "There is no evidence that trade secrets were taken.").score == 0.75
    # A clause break ends the negation's scope.
    assert score(watch, "", "He did not confess, but trade secrets were taken.").score == 3.0


def test_fully_negated_term_is_no_evidence() -> None:
    watch = make(terms={"trade secret(s)": 3.0, "tariff(s)": 3.0}, min_terms=2, negation_factor=0)
    m = score(watch, "", "Tariffs rose. There were no trade secrets involved.")
    assert m.terms == ("Tariffs",)
    assert m.reason.startswith("rejected: 1 distinct term(s), need 2")


def test_evidence_words_are_as_written() -> None:
    watch = make(terms={"strasse": 1.0, "china": 1.0, "trade secret(s)": 1.0})
    m = score(watch, "", "Die Straße’s TRADE-Secrets and China’S.")
    assert set(m.evidence[0].terms) == {"Straße", "TRADE-Secrets", "China"}


def test_sentence_cap_limits_one_dense_sentence() -> None:
    watch = make(
        terms={"trade secret(s)": 3.0, "economic espionage": 3.0, "indict*": 2.0},
        threshold=6.0,
        sentence_cap=4.0,
    )
    one = score(watch, "", "Indicted for economic espionage and trade secrets theft.")
    assert one.score == 4.0 and not one.matched
    two = score(watch, "", "Indicted for economic espionage. The trade secrets were taken.")
    assert two.score == 4.0 + 3.0 and two.matched


def test_conjunction_needs_both_sides_in_one_sentence() -> None:
    watch = make(terms={"steal* | stole & trade secret(s) | source code": 3.0})
    assert score(watch, "", "He stole the source code.").score == 3.0
    assert score(watch, "", "Source code theft? He stole nothing. It was source code.").score == 0
    m = score(watch, "", "The trade secrets he was stealing were valuable.")
    assert set(m.evidence[0].terms) == {"trade secrets", "stealing"}
    assert "'stealing' + 'trade secrets'" in m.reason


def test_phrases_match_whole_words_with_wildcards_and_endings() -> None:
    watch = make(terms={"tariff*": 1.0, "secret(s)": 1.0, "u.s.": 1.0, "state-sponsored": 1.0})
    m = score(
        watch, "", "The US tariffed goods; state sponsored secrets of the U.S. were secretive."
    )
    assert set(m.terms) == {"tariffed", "secrets", "U.S", "state sponsored"}
    assert "secretive" not in " ".join(t for e in m.evidence for t in e.terms)
    assert score(watch, "", "Subtariffs? Antisecrets.").terms == ()  # from a word's start only
    # Hyphens split words, so the second half of a compound is a word of its own.
    assert score(watch, "", "Counter-tariffs.").terms == ("tariffs",)


def test_evidence_is_trimmed_and_at_most_three_sentences() -> None:
    watch = make()
    filler = "word " * 120
    text = f"{filler}trade secrets {filler}. " + " ".join(
        f"Sentence {i} names trade secrets." for i in range(5)
    )
    m = score(watch, "", text)
    assert len(m.evidence) == 3
    assert all(len(e.sentence) <= 302 for e in m.evidence)
    long = next(e for e in m.evidence if e.sentence.startswith("…"))
    assert "trade secrets" in long.sentence and long.sentence.endswith("…")


def test_disabled_watch_still_scores_but_reports_enabled_false() -> None:
    watch = make(enabled=False)
    assert not watch.enabled
    assert score(watch, "", "trade secrets").matched  # callers decide to skip disabled watches


# ----------------------------------------------------------------------------- spec validation


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"threshold": 0}, "threshold", "greater than 0"),
        ({"threshold": -1}, "threshold", "greater than 0"),
        ({"terms": {}}, "terms", "at least 1"),
        ({"terms": {"": 1.0}}, "terms", "empty phrase"),
        ({"terms": {"trade secret": 0}}, "terms", "must be > 0"),
        ({"terms": {"trade secret": 500}}, "terms", "<= 100"),
        ({"terms": {"tra*de": 1.0}}, "terms", "bad word"),
        ({"terms": {"a*": 1.0}}, "terms", "shorter than 2"),
        ({"terms": {"$money": 1.0}}, "terms", "character '$'"),
        ({"terms": {"steal* | ": 1.0}}, "terms", "empty phrase"),
        ({"context": ["ok", " "]}, "context", "empty phrase"),
        ({"exclude": {"sports": -2}}, "exclude", "must be > 0"),
        ({"exclude": {"sports": "never"}}, "exclude", "veto"),
        ({"title_weight": -1}, "title_weight", "greater than or equal to 0"),
        ({"repeat_decay": 1.0}, "repeat_decay", "less than 1"),
        ({"min_terms": 0}, "min_terms", "greater than or equal to 1"),
        ({"sentence_cap": 0}, "sentence_cap", "greater than 0"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_spec_validation_names_the_field(fields: dict[str, Any], field: str, message: str) -> None:
    spec: dict[str, Any] = {"title": "T", "threshold": 1.0, "terms": {"x": 1.0}}
    spec.update(fields)
    with pytest.raises(ValidationError) as err:
        WatchSpec.model_validate(spec)
    text = str(err.value)
    assert field in text and message in text, text


def test_parse_watches_reports_watch_and_field() -> None:
    with pytest.raises(WatchConfigError, match=r"watches\.ip: threshold: .*greater than 0"):
        parse_watches({"ip": {"title": "IP", "threshold": 0, "terms": {"x": 1.0}}})
    with pytest.raises(WatchConfigError, match=r"watches\.ip: terms\.a\*b: .*bad word"):
        watches_from_toml('[watches.ip]\ntitle = "IP"\nthreshold = 1\nterms = { "a*b" = 1.0 }\n')
    with pytest.raises(WatchConfigError, match="invalid TOML"):
        watches_from_toml("[watches.ip\n")
    with pytest.raises(WatchConfigError, match="no \\[watches"):
        watches_from_toml("[other]\n")
    with pytest.raises(ValueError, match="watch name"):
        compile_watch("bad name", WatchSpec(title="T", threshold=1, terms={"x": 1.0}))


def test_default_watches_load_and_keep_documented_settings() -> None:
    data = tomllib.loads(DEFAULT_WATCHES.read_text())
    assert set(data["watches"]) == {"ip_theft", "trade_deal"}
    for watch in parse_watches(data["watches"]):
        assert watch.enabled and watch.spec.description
        assert watch.spec.sentence_cap is not None
        assert watch.threshold > watch.spec.sentence_cap  # one sentence alone never fires


def test_parse_expression_structure() -> None:
    groups = parse_expression("steal* | stole & trade secret(s)")
    assert len(groups) == 2 and len(groups[0]) == 2 and len(groups[1]) == 1
    (trade, secret) = groups[1][0]
    assert trade.exact == {"trade"} and secret.exact == {"secret", "secrets"}
    assert groups[0][0][0].prefix == "steal"


# ----------------------------------------------------------------------------- text splitting


def test_sentence_splitter_handles_abbreviations_and_wrapped_lines() -> None:
    text = (
        "The U.S. Justice Department charged Dr. Wei Chen of Acme Inc. on Tuesday. "
        'He faces 10 years. "We will act," said John P. Carlin. Shares rose 3.5% to $12.40!\n'
        "Revenue rose to 76.88 billion yuan in the\nquarter ended March 31. What next?"
    )
    assert split_sentences(text) == [
        "The U.S. Justice Department charged Dr. Wei Chen of Acme Inc. on Tuesday.",
        "He faces 10 years.",
        '"We will act," said John P. Carlin.',
        "Shares rose 3.5% to $12.40!",
        "Revenue rose to 76.88 billion yuan in the quarter ended March 31.",
        "What next?",
    ]


def test_words_fold_case_possessives_and_punctuation() -> None:
    assert words("China’s U.S.-based state-sponsored don't ÉCONOMIE") == [
        "china",
        "u",
        "s",
        "based",
        "state",
        "sponsored",
        "don't",
        "économie",
    ]


# ----------------------------------------------------------------------------- dev-set quality


def _prf(pairs: list[tuple[bool, bool]]) -> tuple[float, float, float]:
    tp = sum(p and g for p, g in pairs)
    fp = sum(p and not g for p, g in pairs)
    fn = sum(g and not p for p, g in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@pytest.mark.skipif(not DEV_SET.exists(), reason="shared evaluation data not available")
def test_default_watches_quality_on_dev_set(defaults: dict[str, Watch]) -> None:
    records = [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]
    watches = list(defaults.values())
    results = []
    for rec in records:
        title, _, text = rec["text"].partition("\n")
        results.append(classify(watches, title, text))
    for i, watch in enumerate(watches):
        pairs = [
            (res[i].matched, bool(rec[watch.name]))
            for rec, res in zip(records, results, strict=True)
        ]
        precision, recall, f1 = _prf(pairs)
        assert precision >= 0.9 and f1 >= 0.85, (watch.name, precision, recall, f1)


# ----------------------------------------------------------------------------- passing mentions

PATCH_TITLE = "Vendor patches VPN flaw exploited in the wild"
PATCH = """The vendor released fixes on Tuesday for a flaw in its VPN appliances that attackers
have exploited since last month, and urged customers to update at once.
Researchers said the attackers used the flaw to plant web shells on exposed devices.
More from the Security Desk
Former engineer charged with stealing trade secrets from battery maker
Jury convicts executive of economic espionage over stolen chip designs
Patch Tuesday fixes four zero-days"""


def test_headlines_of_other_stories_do_not_carry_an_article(defaults: dict[str, Watch]) -> None:
    ip = defaults["ip_theft"]
    m = score(ip, PATCH_TITLE, PATCH)
    assert not m.matched, m.reason
    # The same lines as the story's prose would fire: it is their being a list that counts.
    as_list = compile_watch("ip_theft", ip.spec.model_copy(update={"fragment_weight": 1.0}))
    assert score(as_list, PATCH_TITLE, PATCH).matched


def test_fragment_weight_applies_to_short_unpunctuated_lines_after_the_prose() -> None:
    watch = make(terms={"trade secret(s)": 2.0}, fragment_weight=0.5, threshold=1.0)
    prose = "A court heard the case on Monday and adjourned until the autumn."
    assert score(watch, "", f"{prose}\nTrade secrets case\n").score == 1.0  # a list item
    assert score(watch, "", f"{prose}\nThe trade secrets case.").score == 2.0  # a sentence
    # Before the prose: the story's own headline and dek count in full.
    assert score(watch, "", f"Trade secrets case\n{prose}").score == 2.0
    long_line = "Four charged in a campaign " + "against many firms " * 5 + "over trade secrets"
    assert score(watch, "", f"{prose}\n{long_line}").score == 2.0  # too long for a list item


def test_watch_names_and_list_exclusions() -> None:
    with pytest.raises(ValueError, match="watch name"):
        compile_watch("my watch", WatchSpec(title="T", threshold=1, terms={"x": 1.0}))
    spec = WatchSpec(title="T", threshold=1, terms={"x": 1.0}, exclude=["sports", "expo"])
    assert spec.exclusions() == {"sports": None, "expo": None}
    with pytest.raises(ValidationError, match="fragment_weight"):
        WatchSpec(title="T", threshold=1, terms={"x": 1.0}, fragment_weight=2)
