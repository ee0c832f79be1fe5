"""Fingerprints: exact text hash, SimHash near-duplicates, signed 64-bit round trip."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from classifiers.fingerprint import (
    DEFAULT_MAX_DISTANCE,
    fingerprint_body,
    from_signed64,
    hamming,
    is_near_duplicate,
    normalise_text,
    simhash,
    simhash_reference,
    text_hash,
    to_signed64,
)
from newswatch.newsroom import load_sample_articles

DEV_SET = Path(__file__).parents[1].parent / "shared" / "eval" / "classification" / "dev.jsonl"

WIRE_LEAD = (
    "WASHINGTON (Wire) - The United States and Japan on Monday signed a trade agreement that "
    "cuts tariffs on American beef, pork and wheat and keeps existing duties on Japanese cars, "
    "ending more than a year of negotiations between the two allies."
)
WIRE_BODY = """The deal, signed at the White House by the U.S. trade representative and Japan's
ambassador, is expected to enter into force on January 1 once Japan's parliament approves it.
Farm groups welcomed the agreement, saying it would restore access that American producers lost
when Washington withdrew from a regional trade pact two years ago. Japan imported more than
fourteen billion dollars of American food and agricultural products last year, and about a third
of that already entered duty free.
Under the agreement Japan will eliminate or reduce tariffs on roughly seven billion dollars of
American farm goods, including cheese, wine and fresh fruit. Beef tariffs will fall in stages from
38.5 percent to 9 percent by 2033, matching the rate that Australian and Canadian exporters pay.
The United States will keep its 2.5 percent tariff on Japanese passenger cars, a point Tokyo had
hoped to change. Officials said the administration had agreed not to impose national security
tariffs on Japanese vehicles for now, a concession Japanese negotiators had pressed for since the
talks began.
A separate digital trade agreement signed at the same ceremony bans customs duties on electronic
transmissions such as music, video and software, and limits when governments can require companies
to disclose source code or store data locally.
Business groups in both countries said the deal was a useful first step but urged the two
governments to begin a second phase covering services, investment and the remaining industrial
tariffs. Some lawmakers criticised the decision to leave cars out of the agreement, arguing that it
left American auto parts makers exposed. Others said the farm provisions alone justified the deal
after a difficult year for growers hit by retaliatory tariffs in other markets.
Japan's economy minister said the agreement was a win for both sides and that the two countries
would continue to consult on remaining issues. Analysts said the pact could ease pressure on
Japanese carmakers, whose shares rose on the news, and might serve as a template for talks with
other partners in the region.
The two governments plan to begin consultations on the next stage within four months after the
agreement takes effect, according to a joint statement released after the signing."""

SAME_TOPIC_OTHER_STORY = """TOKYO - Japan's parliament on Wednesday approved the trade agreement
with the United States, clearing the way for lower tariffs on American farm products from the new
year. The upper house voted 170 to 75 in favour after two days of debate in which opposition
parties said the government had given too much away on agriculture without winning relief for the
car industry. Farmers' unions staged a small protest outside the Diet, warning that cheaper
American beef and pork would hurt family farms already struggling with an ageing workforce.
The government says it will expand subsidies for livestock producers and promote exports of
Japanese wagyu, rice and sake to offset the impact. The prime minister told lawmakers the deal
protected Japan's most sensitive products, including rice, and avoided the threat of higher U.S.
duties on cars that had hung over the economy for more than a year. Economists estimate the
agreement will raise Japan's gross domestic product by about 0.8 percent over the long term,
mainly through cheaper food imports and lower costs for consumers. Officials in Washington
welcomed the vote and said they expected the agreement to take effect on schedule. Negotiators
are due to meet again in the spring to discuss services and investment rules, though officials
on both sides have played down expectations of a quick second deal. The agriculture ministry will
publish guidance for importers next month on the new tariff quotas for beef, pork, cheese and
wine, and customs officials are preparing to process the first shipments under the lower rates."""

NEW_LEAD = (
    "Tokyo and Washington sealed a long-awaited farm and digital trade pact on Monday, handing "
    "American ranchers cheaper access to Japan's market while leaving the thorny question of car "
    "tariffs for another day."
)
BYLINE = "By Kenji Morita and Sarah Collins\nUpdated 7 October 2019, 18:04 GMT\n\n"
BOILERPLATE = (
    "\n\nReporting by Kenji Morita in Tokyo and Sarah Collins in Washington; editing by Anne Hale."
    "\nCopyright 2019 Example Wire. All rights reserved."
)
ORIGINAL = f"{WIRE_LEAD}\n{WIRE_BODY}"
SYNDICATED = f"{BYLINE}{NEW_LEAD}\n{WIRE_BODY}{BOILERPLATE}"


def test_normalise_and_hash_ignore_case_whitespace_and_typography() -> None:
    a = "Japan’s  “trade deal” — signed\non Monday.\u00a0It cuts tariffs."
    b = 'JAPAN\'S "TRADE DEAL" - signed on Monday. It cuts   tariffs'
    assert (
        normalise_text(a)
        == normalise_text(b)
        == "japan s trade deal signed on monday it cuts tariffs"
    )
    assert text_hash(a) == text_hash(b)
    assert len(text_hash(a)) == 64 and int(text_hash(a), 16) >= 0
    assert text_hash(a) != text_hash(a + " Officials said.")
    assert simhash(a) == simhash(b)


def test_simhash_is_stable_unsigned_64_bit_and_matches_reference() -> None:
    h = simhash(ORIGINAL)
    assert 0 <= h < 1 << 64
    assert h == simhash(ORIGINAL)  # no per-process salt
    assert h == simhash_reference(ORIGINAL)
    assert simhash("") == 0
    assert simhash("two words") == simhash_reference("two words") != 0


def test_syndicated_copy_with_new_lead_byline_and_boilerplate_is_near_duplicate() -> None:
    distance = hamming(simhash(ORIGINAL), simhash(SYNDICATED))
    assert distance <= DEFAULT_MAX_DISTANCE, distance
    assert is_near_duplicate(simhash(ORIGINAL), simhash(SYNDICATED))
    assert text_hash(ORIGINAL) != text_hash(SYNDICATED)


def test_different_story_on_the_same_topic_is_not_near_duplicate() -> None:
    distance = hamming(simhash(ORIGINAL), simhash(SAME_TOPIC_OTHER_STORY))
    assert distance > DEFAULT_MAX_DISTANCE + 4, distance
    assert not is_near_duplicate(simhash(ORIGINAL), simhash(SAME_TOPIC_OTHER_STORY))


def test_fingerprint_body_drops_wrapper_lines_only() -> None:
    body = fingerprint_body(SYNDICATED)
    assert "Kenji Morita" not in body and "Copyright" not in body and "Updated" not in body
    assert body.startswith("Tokyo and Washington sealed")
    paragraph = "Published figures show exports rose 4 percent in March, the ministry said."
    assert fingerprint_body(paragraph) == paragraph
    assert fingerprint_body("Too short") == "Too short"  # nothing left: keep everything


def test_hamming_and_threshold() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0, (1 << 64) - 1) == 64
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(to_signed64((1 << 64) - 1), 0) == 64  # signed values work too
    assert is_near_duplicate(0, 0b111, max_distance=3)
    assert not is_near_duplicate(0, 0b1111, max_distance=3)


@pytest.mark.parametrize("value", [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0xDEADBEEFCAFEF00D])
def test_signed64_round_trip(value: int) -> None:
    signed = to_signed64(value)
    assert -(1 << 63) <= signed < 1 << 63
    assert from_signed64(signed) == value
    assert (signed < 0) == (value >= 1 << 63)


def test_signed64_round_trip_random_simhashes() -> None:
    rng = random.Random(5)
    for _ in range(1000):
        value = rng.getrandbits(64)
        assert from_signed64(to_signed64(value)) == value


def test_signed64_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        to_signed64(-1)
    with pytest.raises(ValueError):
        to_signed64(1 << 64)
    with pytest.raises(ValueError):
        from_signed64(1 << 63)


@pytest.mark.skipif(not DEV_SET.exists(), reason="shared evaluation data not available")
def test_default_distance_on_dev_texts() -> None:
    """The measurement behind DEFAULT_MAX_DISTANCE, on real texts (2,000-char openings)."""
    texts = [json.loads(line)["text"] for line in DEV_SET.read_text().splitlines() if line]
    articles = ["\n".join(texts[i : i + 2]) for i in range(0, len(texts) - 1, 2)]  # ~540 words
    hashes = [simhash(a) for a in articles]
    unrelated = [hamming(a, b) for a, b in itertools.combinations(hashes, 2)]
    assert min(unrelated) > DEFAULT_MAX_DISTANCE + 3
    copies = [
        hamming(h, simhash(BYLINE + a + BOILERPLATE)) for a, h in zip(articles, hashes, strict=True)
    ]
    assert sum(d <= DEFAULT_MAX_DISTANCE for d in copies) / len(copies) >= 0.95


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one",
        "two words",
        "exactly three words",
        "Zoë Brontë’s café — naïve “quotes”, 2,400 tonnes; 東京 株式 会社 报道",
        "again\u00a0and\u2003again\x1cand\tagain",
        "Line one has enough words to be kept in the body.\nBy Staff\nLine two, also long enough.",
    ],
)
def test_fast_simhash_equals_the_reference_on_unicode_and_short_texts(text: str) -> None:
    assert simhash(text) == simhash_reference(text)


def test_fast_simhash_equals_the_reference_on_the_sample_articles() -> None:
    for article in load_sample_articles():
        assert simhash(article.text) == simhash_reference(article.text)
