"""Rendering a ``Digest`` for Slack, email (subject, text, HTML), the console, Markdown
(the Prefect artifact), Apprise (title + text) and JSON (the webhook channel).

The same escaping rules as single alerts: page strings are cleaned to one line, then escaped
for the target (mrkdwn ``&<>``, HTML, Markdown punctuation); only http(s) URLs are linked.
"""

from __future__ import annotations

from html import escape
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from .digest import ARTICLES_PER_STORY, Digest, DigestArticle, DigestStory
from .render_json import iso
from .render_markdown import md_escape, md_link
from .render_slack import HEADER_MAX, MAX_BLOCKS, SECTION_MAX, mrkdwn_escape, mrkdwn_link
from .text import clean, fit, format_when, is_http_url, truncate

DIGEST_SCHEMA = "newswatch.digest.v1"
TITLE_MAX = 200


def _period(digest: Digest) -> str:
    return f"{format_when(digest.since)} – {format_when(digest.until)}"


def digest_title(digest: Digest) -> str:
    """One line, used as email subject, Apprise title and Slack header."""
    day = digest.until.strftime("%Y-%m-%d")
    if digest.is_empty:
        return f"[newswatch] digest {day}: nothing new"
    return (
        f"[newswatch] digest {day}: {digest.story_count} stories, {digest.article_count} articles"
    )


def _coverage(story: DigestStory) -> str:
    n, outlets = len(story.articles), len(story.outlets)
    return f"{n} article{'s' * (n != 1)}, {outlets} outlet{'s' * (outlets != 1)}"


def _note(article: DigestArticle) -> str:
    if article.alerted:
        return "alerted"
    return "copy, no alert" if article.is_copy else "no alert of its own"


def _l(text: str, limit: int) -> str:
    return truncate(clean(text), limit)


# --- plain text (email text part, Apprise body) ---------------------------------------------


def digest_text(digest: Digest) -> str:
    out = [_l(digest_title(digest), TITLE_MAX), _period(digest), ""]
    if digest.is_empty:
        out.append("No story matched a watch in this period.")
    for section in digest.sections:
        out.append(f"== {_l(section.title, 200)} ({len(section.stories)} stories) ==")
        for rank, story in enumerate(section.stories, 1):
            out.append(f"{rank}. {_l(story.headline, 300)} ({_coverage(story)})")
            out.append(f"   {_l(story.url, 2000)}")
            out.append(f"   outlets: {_l(', '.join(story.outlets), 500)}")
            for article in story.articles[:ARTICLES_PER_STORY]:
                out.append(
                    f"   - {_l(article.outlet, 100)}: {_l(article.headline, 200)} "
                    f"[{_note(article)}]"
                )
            if len(story.articles) > ARTICLES_PER_STORY:
                out.append(f"   - …and {len(story.articles) - ARTICLES_PER_STORY} more")
        if section.more_stories:
            out.append(f"…and {section.more_stories} more stories")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# --- HTML email -------------------------------------------------------------------------------


def _h(text: str, limit: int) -> str:
    return escape(_l(text, limit), quote=True)


def _a(url: str, text: str, limit: int) -> str:
    label = _h(text, limit) or _h(url, 2000) or "(untitled)"
    return f'<a href="{escape(url, quote=True)}">{label}</a>' if is_http_url(url) else label


def digest_html(digest: Digest) -> str:
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>',
        '<body style="font-family: sans-serif; line-height: 1.4">',
        f"<h2>{_h(digest_title(digest), TITLE_MAX)}</h2>",
        f'<p style="color: #555">{escape(_period(digest))}</p>',
    ]
    if digest.is_empty:
        parts.append("<p>No story matched a watch in this period.</p>")
    for section in digest.sections:
        parts.append(f"<h3>{_h(section.title, 200)}</h3><ol>")
        for story in section.stories:
            items = "".join(
                f"<li>{_h(a.outlet, 100)}: {_a(a.url, a.headline, 200)} "
                f'<span style="color: #888">({_note(a)})</span></li>'
                for a in story.articles[:ARTICLES_PER_STORY]
            )
            more = len(story.articles) - ARTICLES_PER_STORY
            if more > 0:
                items += f"<li>…and {more} more</li>"
            parts.append(
                f"<li><b>{_a(story.url, story.headline, 300)}</b> "
                f'<span style="color: #555">({_coverage(story)})</span><ul>{items}</ul></li>'
            )
        parts.append("</ol>")
        if section.more_stories:
            parts.append(f"<p>…and {section.more_stories} more stories</p>")
    parts.append('<p style="color: #888">newswatch digest</p></body></html>')
    return "\n".join(parts) + "\n"


# --- Slack ------------------------------------------------------------------------------------


def _story_block(rank: int, story: DigestStory) -> dict[str, Any]:
    lines = [f"{rank}. *{mrkdwn_link(story.url, story.headline, 300)}* · {_coverage(story)}"]
    for article in story.articles[:ARTICLES_PER_STORY]:
        outlet = fit(clean(article.outlet), 100, mrkdwn_escape)
        link = mrkdwn_link(article.url, article.headline, 200)
        lines.append(f"• {outlet}: {link} _({_note(article)})_")
    if len(story.articles) > ARTICLES_PER_STORY:
        lines.append(f"• …and {len(story.articles) - ARTICLES_PER_STORY} more")
    kept: list[str] = []
    for line in lines:  # whole lines only: a cut line could break a link
        if sum(len(k) + 1 for k in kept) + len(line) > SECTION_MAX - 2:
            break
        kept.append(line)
    return {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(kept)}}


def digest_slack_payload(digest: Digest) -> dict[str, Any]:
    header = {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(clean(digest_title(digest)), HEADER_MAX)},
    }
    period = {"type": "context", "elements": [{"type": "mrkdwn", "text": _period(digest)}]}
    blocks: list[dict[str, Any]] = [header, period]
    if digest.is_empty:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "No story matched a watch in this period."},
            }
        )
    room = MAX_BLOCKS - len(blocks) - 1  # keep one for "…and N more"
    hidden = 0
    for section in digest.sections:
        title = fit(clean(section.title), 200, mrkdwn_escape)
        head = {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}
        stories = [_story_block(i, s) for i, s in enumerate(section.stories, 1)]
        if room < 2:
            hidden += len(section.stories) + section.more_stories
            continue
        shown = stories[: room - 1]
        blocks += [head, *shown]
        room -= 1 + len(shown)
        hidden += len(stories) - len(shown) + section.more_stories
    if hidden:
        more = {"type": "mrkdwn", "text": f"…and {hidden} more stories"}
        blocks.append({"type": "context", "elements": [more]})
    return {
        "text": fit(clean(digest_title(digest)), 3000, mrkdwn_escape),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


# --- Markdown (Prefect artifact) --------------------------------------------------------------


def _md_link(url: str, text: str, limit: int) -> str:
    return md_link(truncate(clean(text), limit), url)


def digest_markdown(digest: Digest) -> str:
    out = [f"# {md_escape(digest_title(digest))}", "", md_escape(_period(digest)), ""]
    if digest.is_empty:
        out.append("No story matched a watch in this period.")
    for section in digest.sections:
        out += [f"## {md_escape(_l(section.title, 200))}", ""]
        for rank, story in enumerate(section.stories, 1):
            out.append(
                f"{rank}. **{_md_link(story.url, story.headline, 300)}** ({_coverage(story)})"
            )
            for article in story.articles[:ARTICLES_PER_STORY]:
                out.append(
                    f"    - {md_escape(_l(article.outlet, 100))}: "
                    f"{_md_link(article.url, article.headline, 200)} *{_note(article)}*"
                )
        if section.more_stories:
            out.append(f"\n…and {section.more_stories} more stories")
        out.append("")
    return "\n".join(out)


# --- console and JSON -------------------------------------------------------------------------


def digest_console(digest: Digest) -> RenderableType:
    lines: list[RenderableType] = [Text(_period(digest), style="dim")]
    if digest.is_empty:
        lines.append(Text("No story matched a watch in this period."))
    for section in digest.sections:
        lines.append(Text(_l(section.title, 200), style="bold cyan"))
        for rank, story in enumerate(section.stories, 1):
            lines.append(
                Text.assemble(
                    f"{rank}. ", (_l(story.headline, 300), "bold"), f" ({_coverage(story)})"
                )
            )
            for article in story.articles[:ARTICLES_PER_STORY]:
                lines.append(
                    Text(
                        f"   {_l(article.outlet, 100)}: {_l(article.headline, 200)} "
                        f"[{_note(article)}]",
                        style="dim" if not article.alerted else "",
                    )
                )
        if section.more_stories:
            lines.append(Text(f"…and {section.more_stories} more stories"))
    return Panel(Group(*lines), title=Text(_l(digest_title(digest), TITLE_MAX), style="bold"))


def digest_document(digest: Digest) -> dict[str, Any]:
    """The ``newswatch.digest.v1`` JSON document (see the README)."""
    return {
        "schema": DIGEST_SCHEMA,
        "title": _l(digest_title(digest), TITLE_MAX),
        "since": iso(digest.since),
        "until": iso(digest.until),
        "watches": [
            {
                "watch": section.watch,
                "title": _l(section.title, 200),
                "article_count": section.article_count,
                "more_stories": section.more_stories,
                "stories": [
                    {
                        "headline": _l(story.headline, 300),
                        "url": _l(story.url, 2000),
                        "outlets": [_l(o, 200) for o in story.outlets],
                        "articles": [
                            {
                                "headline": _l(a.headline, 300),
                                "url": _l(a.url, 2000),
                                "outlet": _l(a.outlet, 200),
                                "published_at": iso(a.published_at),
                                "alerted": a.alerted,
                                "copy": a.is_copy,
                            }
                            for a in story.articles
                        ],
                    }
                    for story in section.stories
                ],
            }
            for section in digest.sections
        ],
    }
