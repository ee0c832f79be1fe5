"""The general layout fixes of extractors.cleanup, on small pages written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lxml import html as lxml_html

from extractors.cleanup import (
    cut_comment_tail,
    drop_comment_threads,
    drop_hidden_copies,
    drop_leading_headline,
    headline_keys,
    looks_like_page_dump,
    merge_split_bodies,
)
from extractors.extract import ALL_FIXES, extract_article

FIXTURES = Path(__file__).parent / "fixtures" / "extractors"
FETCHED = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


def _text(name: str, fixes: frozenset[str] = ALL_FIXES) -> str:
    return extract_article(
        (FIXTURES / name).read_bytes(),
        url="https://courier.example/news/2024/story",
        source="t",
        fetched_at=FETCHED,
        fixes=fixes,
    ).text


def test_body_split_by_an_ad_row_is_kept_whole() -> None:
    text = _text("split_body.html")
    assert text.startswith("The regional planning board approved")
    assert "The port authority expects the deeper channel" in text
    assert text.endswith("has finished nesting.")
    assert "Cheap ferry tickets" not in text  # the ad row between the parts stays out
    assert len(text.split("\n")) == 6
    # without the fix only the first part comes out: the fix is what keeps the second
    assert "The port authority" not in _text("split_body.html", ALL_FIXES - {"split_bodies"})


def test_merge_leaves_unrelated_blocks_alone() -> None:
    paragraph = "<p>" + "Quay wall repairs continue through the winter months. " * 3 + "</p>"
    page = lxml_html.fromstring(
        f'<html><body><div class="article-body">{paragraph}</div>'
        f'<aside><div class="teaser">{paragraph}</div></aside></body></html>'
    )
    assert merge_split_bodies(page) == 0
    # two parts far apart in the tree (another page region) are not joined either
    far = lxml_html.fromstring(
        f'<html><body><div><div><div><div><div class="article-body">{paragraph}</div>'
        f'</div></div></div></div><div class="article-body">{paragraph}</div></body></html>'
    )
    assert merge_split_bodies(far) == 0


def test_hidden_schema_org_copies_are_not_repeated() -> None:
    text = _text("hidden_copy.html")
    assert text.count("Sleeper services between the coast") == 1
    assert text.count("Tickets go on sale on Monday") == 1
    assert "Night trains return" not in text  # the headline is the title, not body text


def test_hidden_block_not_shown_elsewhere_is_kept() -> None:
    hidden = "The rest of the story: the council will vote on the plan in March. " * 4
    page = lxml_html.fromstring(
        "<html><body><p>Visible opening paragraph of the story about the quay.</p>"
        f'<div style="display: none">{hidden}</div>'
        f"<div hidden><p>{'A copy. ' * 40}</p></div><p>{'A copy. ' * 40}</p></body></html>"
    )
    assert drop_hidden_copies(page) == 1  # the copy goes, the unseen continuation stays
    assert "council will vote" in page.text_content()
    assert page.text_content().count("A copy.") == 40


def test_comments_after_a_short_post_are_excluded() -> None:
    text = _text("short_post_comments.html")
    assert text.startswith("Our monthly open thread is here again.")
    assert text.endswith("still open for late answers.")
    for comment in ["Rosalind", "lighthouse keepers", "ferry departures", "trade winds", "Lin"]:
        assert comment not in text, comment


def test_comments_heading_above_the_post_or_as_a_link_is_left_alone() -> None:
    long = "<p>" + "The harbour master answered readers' questions on the bridge. " * 3 + "</p>"
    about = lxml_html.fromstring(f"<html><body><h2>Comments</h2>{long}{long}</body></html>")
    assert drop_comment_threads(about) == 0
    linked = lxml_html.fromstring(
        f'<html><body>{long}<h3><a href="#c">12 comments</a></h3>{long}</body></html>'
    )
    assert drop_comment_threads(linked) == 0


def test_comment_tail_cut_only_in_second_half() -> None:
    body = [f"Paragraph {i} of the report on the new ferry terminal." for i in range(4)]
    assert cut_comment_tail([*body, "3 Comments", "Nice piece!"]) == body
    assert cut_comment_tail(["Comments", *body]) == ["Comments", *body]


def test_leading_headline_dropped() -> None:
    page = lxml_html.fromstring(
        "<html><head><title>Ferry fares frozen for a year | The Quay Courier</title></head>"
        "<body><h1>Ferry fares frozen for a year</h1></body></html>"
    )
    keys = headline_keys(page)
    assert drop_leading_headline(["Ferry fares frozen for a year", "Body."], keys) == ["Body."]
    assert drop_leading_headline(["Body.", "Ferry fares frozen for a year"], keys) == [
        "Body.",
        "Ferry fares frozen for a year",
    ]


def test_page_dump_signature() -> None:
    menu = ["Home", "News", "Sport", "Contact us"] * 30
    assert looks_like_page_dump(menu)
    article = [f"Sentence number {i} of a long and ordinary news report." for i in range(150)]
    assert not looks_like_page_dump(article)
    assert not looks_like_page_dump(menu[:40])  # short texts are never judged
