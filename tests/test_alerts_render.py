"""Rendering an alert for Slack, email and the console: structure, escaping, limits."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from alerts.message import AlertMessage, PreviousStory
from alerts.render import (
    console_renderable,
    email_html,
    email_subject,
    email_text,
    mrkdwn_escape,
    slack_payload,
)
from alerts.text import clean, fit, truncate
from newswatch.models import Evidence, Match

EVIL = "Spies <!channel> & <http://evil.example|click here> steal <@U123> secrets"


def make_message(**changes: Any) -> AlertMessage:
    msg = AlertMessage(
        alert_id=42,
        kind="new_story",
        headline="Engineer charged with stealing chip designs",
        url="https://news.example/2024/05/chips?id=1&src=rss",
        outlet="Example News",
        published_at=datetime(2024, 5, 1, 14, 30, tzinfo=UTC),
        matches=(
            Match(
                watch="ip_theft",
                score=0.87,
                threshold=0.5,
                matched=True,
                terms=("trade secrets", "charged"),
                evidence=(
                    Evidence("He was charged with stealing trade secrets.", ("trade secrets",)),
                    Evidence("Prosecutors said the designs were copied.", ("copied",)),
                    Evidence("A third sentence that is not shown.", ("x",)),
                ),
                reason="matched",
            ),
        ),
        lead="A former engineer was charged on Tuesday with stealing chip designs.",
        also_reported_by=("Wire Service", "Daily Paper"),
        previously=(
            PreviousStory(
                "Chipmaker sues former staff", "https://news.example/earlier", datetime(2024, 4, 2)
            ),
        ),
        watch_titles={"ip_theft": "IP theft"},
    )
    return replace(msg, **changes)


def all_text(payload: dict[str, Any]) -> list[str]:
    """Every text string in a Slack payload (top-level text and every block's text)."""
    out = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", [])]
    return out


# --- shared text helpers ------------------------------------------------------------------


def test_clean_removes_control_and_bidi_characters() -> None:
    assert clean("a\r\nBcc: x\x1b[2J\u2028b\u202e c\t\td ") == "a Bcc: x [2J b c d"


def test_truncate_and_fit_never_split_an_entity() -> None:
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"
    fitted = fit("&" * 100, 12, mrkdwn_escape)
    assert fitted == "&amp;&amp;…" and len(fitted) <= 12


# --- Slack ----------------------------------------------------------------------------------


def test_slack_payload_structure() -> None:
    payload = slack_payload(make_message())
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "New story · IP theft"},
    }
    assert blocks[1]["text"]["text"] == (
        "*<https://news.example/2024/05/chips?id=1&amp;src=rss|"
        "Engineer charged with stealing chip designs>*"
    )
    context = blocks[2]["elements"][0]["text"]
    assert "Example News" in context and "2024-05-01 14:30 UTC" in context
    assert "also reported by Wire Service, Daily Paper" in context
    watch = next(
        b["text"]["text"] for b in blocks if "IP theft*" in b.get("text", {}).get("text", "")
    )
    assert "score 0.87 (threshold 0.50)" in watch
    assert ">He was charged with stealing trade secrets." in watch
    assert ">Prosecutors said the designs were copied." in watch
    assert "third sentence" not in watch  # at most two evidence sentences
    previously = next(b for b in blocks if "Previously in this storyline" in json.dumps(b))
    assert (
        "<https://news.example/earlier|Chipmaker sues former staff>" in previously["text"]["text"]
    )
    assert "Engineer charged" in payload["text"] and "IP theft" in payload["text"]
    assert payload["unfurl_links"] is False
    json.dumps(payload)  # serialisable as is


def test_slack_escapes_every_page_string() -> None:
    evil_evidence = Evidence(f"Quote: {EVIL}\n>fake quote line", ("x",))
    msg = make_message(
        headline=EVIL,
        outlet="Outlet <!here>",
        lead=f"Lead {EVIL}",
        also_reported_by=("<!everyone>",),
        matches=(replace(make_message().matches[0], evidence=(evil_evidence,), terms=("<!x>",)),),
        previously=(PreviousStory(EVIL, "https://a.example/|<!channel>", datetime(2024, 1, 1)),),
    )
    payload = slack_payload(msg)
    for text in all_text(payload):
        # No mention, no page-made link: the only "<" left open ours, around an http(s) URL.
        assert "<!" not in text and "<@" not in text and "<http://evil" not in text
        for link in re.findall(r"<([^>]*)>", text):
            target = link.split("|", 1)[0]  # Slack ends the URL at the first "|"
            assert target.startswith("https://") and " " not in target, link
    headline = payload["blocks"][1]["text"]["text"]
    assert "Spies &lt;!channel&gt; &amp; &lt;http://evil.example|click here&gt;" in headline
    watch = payload["blocks"][4]["text"]["text"]
    assert "\n>fake" not in watch  # a newline in a sentence cannot open a quote of its own
    assert "%7C&lt;!channel&gt;" in json.dumps(payload)


def test_slack_does_not_link_non_web_urls() -> None:
    payload = slack_payload(make_message(url="javascript:alert(1)"))
    assert payload["blocks"][1]["text"]["text"] == "*Engineer charged with stealing chip designs*"


def test_slack_limits_hold_for_huge_input() -> None:
    huge = "W&<" * 3400  # 10,200 characters, each "&" and "<" growing when escaped
    many = tuple(
        Match(f"watch_{i}", 0.9, 0.5, True, (huge,) * 20, (Evidence(huge, ()),) * 5)
        for i in range(80)
    )
    msg = make_message(
        headline=huge,
        url="https://news.example/" + "a" * 10_000,
        outlet=huge,
        lead=huge,
        matches=many,
        also_reported_by=(huge,) * 50,
        previously=tuple(
            PreviousStory(huge, "https://x.example/" + "p" * 900, datetime(2024, 1, 1))
            for _ in range(30)
        ),
        watch_titles={f"watch_{i}": huge for i in range(80)},
    )
    payload = slack_payload(msg)
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert "more watches matched" in json.dumps(blocks)
    for block in blocks:
        if block["type"] == "header":
            assert 0 < len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        elif block["type"] == "context":
            assert all(len(e["text"]) <= 2000 for e in block["elements"])
    assert len(payload["text"]) <= 40_000
    for text in [payload["text"], *all_text(payload)[2:]]:  # mrkdwn only, not the header
        assert not re.search(r"&(a|am|l|g)?…", text)  # no entity cut in half
        assert "<https://news.example/" not in text  # a 10,000-character URL is not linked


# --- email -----------------------------------------------------------------------------------


def test_email_subject_is_one_short_line() -> None:
    msg = make_message(headline="Hello\r\nBcc: victim@example.com\x00\u2028" + "x" * 1000)
    subject = email_subject(msg)
    assert subject.startswith("[newswatch] ip_theft: Hello Bcc: victim@example.com")
    assert not any(ord(c) < 32 or c in "\u2028\u2029\x7f" for c in subject)
    assert len(subject) <= 200 and subject.endswith("…")
    dev = email_subject(make_message(kind="development"))
    assert dev == "[newswatch] ip_theft (development): Engineer charged with stealing chip designs"


def test_email_text_says_why() -> None:
    text = email_text(make_message())
    for expected in (
        "New story: IP theft",
        "Engineer charged with stealing chip designs",
        "https://news.example/2024/05/chips?id=1&src=rss",
        "Example News · 2024-05-01 14:30 UTC",
        "Also reported by Wire Service, Daily Paper",
        "- IP theft: score 0.87 (threshold 0.50)",
        "  > He was charged with stealing trade secrets.",
        "Previously in this storyline",
        "- 2024-04-02 00:00: Chipmaker sues former staff",
        "newswatch alert #42",
    ):
        assert expected in text


def test_email_html_escapes_and_links_only_web_urls() -> None:
    html = email_html(
        make_message(
            headline='<script>alert("x")</script> & "quotes"',
            lead="<img src=x onerror=alert(1)>",
            previously=(PreviousStory("Old", "javascript:alert(1)", datetime(2024, 1, 1)),),
        )
    )
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in html
    assert 'href="https://news.example/2024/05/chips?id=1&amp;src=rss"' in html
    assert "javascript:" not in html and "<li>2024-01-01 00:00: Old</li>" in html
    assert "score 0.87 (threshold 0.50)" in html and "<blockquote" in html


# --- console ---------------------------------------------------------------------------------


def render_console(msg: AlertMessage) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(console_renderable(msg))
    return console.export_text()


def test_console_shows_headline_score_and_evidence() -> None:
    out = render_console(make_message())
    for expected in (
        "New story: IP theft",
        "Engineer charged with stealing chip designs",
        "Example News",
        "score 0.87 (threshold 0.50)",
        "He was charged with stealing trade secrets.",
        "alert #42",
    ):
        assert expected in out


def test_console_escapes_rich_markup_and_control_codes() -> None:
    msg = make_message(
        headline="[bold]x[/bold] [link=https://evil.example]y[/link] \x1b[31mred",
        outlet="[red]Outlet[/red]",
        matches=(replace(make_message().matches[0], evidence=(Evidence("[/] closes [i]it", ()),)),),
    )
    console = Console(record=True, width=120)
    console.print(console_renderable(msg))
    out = console.export_text(styles=False)
    assert "[bold]x[/bold] [link=https://evil.example]y[/link]" in out
    assert "[red]Outlet[/red]" in out and "[/] closes [i]it" in out
    for tricky in ("ends in a backslash \\", "two \\\\", "\\[bold]b[/bold]"):
        text = render_console(make_message(headline=tricky, outlet=tricky))
        assert text.count(tricky) == 2, tricky
    assert "\x1b[31m" not in console.export_text(styles=False)


HOSTILE_TITLES = ["<!channel>", "<http://evil|click>", "\r\nBcc: x@y", "<script>"]


@pytest.mark.parametrize("hostile", HOSTILE_TITLES)
def test_hostile_titles_are_inert_in_slack(hostile: str) -> None:
    evil = f"Firm sues rival {hostile} today"
    msg = make_message(
        headline=evil,
        outlet=evil,
        lead=evil,
        also_reported_by=(evil,),
        previously=(PreviousStory(evil, "https://news.example/old", datetime(2024, 1, 1)),),
        matches=(
            replace(make_message().matches[0], evidence=(Evidence(evil, ()),), terms=(evil,)),
        ),
    )
    payload = slack_payload(msg)
    for text in all_text(payload):
        assert "<!" not in text and "<http://evil" not in text and "<script" not in text
        assert "\r" not in text and "\nBcc" not in text
        for link in re.findall(r"<([^>]*)>", text):
            assert link.split("|", 1)[0].startswith("https://news.example/"), link
    assert "Firm sues rival" in payload["text"]
    html = email_html(msg)
    assert "<script" not in html and "<!channel" not in html and "<http://evil" not in html
    assert "\r" not in email_subject(msg) and "\n" not in email_subject(msg)
