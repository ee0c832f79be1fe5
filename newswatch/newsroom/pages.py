"""HTML pages of the newsroom: article pages with realistic chrome, the index, error pages.

The chrome (cookie banner, navigation, "What's hot", share buttons, in-article ad slot, author
bio, comments teaser, related stories, newsletter box, footer) is what boilerplate removal has to
strip; ``CHROME_MARKERS`` lists strings that appear only in it. All page text is escaped.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from newswatch.newsroom.samples import SampleArticle

NETWORK_NAME = "Northgate News Network"

COOKIE_TEXT = (
    "We use cookies to improve your experience on our site, to personalise content and ads, "
    "and to analyse our traffic. You can change your choices at any time under Cookie settings."
)
TRENDING_HEADING = "What's hot"
RELATED_HEADING = "Related stories"
NEWSLETTER_TEXT = "The day's most important stories, delivered to your inbox every weekday morning."
COMMENTS_HEADING = "Join the conversation"
COMMENTS_TEXT = "Comments are moderated and may take a few minutes to appear."
AUTHOR_BIO_HEADING = "About the author"
TIPS_TEXT = "Send tips securely via our tips page."
RIGHTS_TEXT = "All rights reserved."
AD_LABEL = "Advertisement"

# Strings that appear on every article page, only in its chrome, never in an article's text.
CHROME_MARKERS: tuple[str, ...] = (
    "Skip to content",
    "We use cookies to improve your experience",
    "Accept all",
    "Reject non-essential",
    "Manage preferences",
    TRENDING_HEADING,
    "Subscribe",
    "Sign in",
    "Share this article",
    "Share on X",
    "Share on LinkedIn",
    "Copy link",
    AD_LABEL,
    AUTHOR_BIO_HEADING,
    "Send tips securely",
    COMMENTS_HEADING,
    COMMENTS_TEXT,
    "View comments",
    RELATED_HEADING,
    "Sign up for",
    "delivered to your inbox",
    "By signing up you agree",
    RIGHTS_TEXT,
    "Privacy policy",
    "Terms of use",
    "Cookie settings",
    NETWORK_NAME,
)


@dataclass(frozen=True, slots=True)
class Outlet:
    """A masthead: the chrome an article is shown in."""

    name: str
    tagline: str
    sections: tuple[str, ...]
    publisher: str
    newsletter: str
    handle: str


OUTLETS: dict[str, Outlet] = {
    o.name: o
    for o in (
        Outlet(
            "The Meridian Ledger",
            "Business, markets and trade since 1911",
            ("World", "Trade", "Markets", "Companies", "Politics", "Courts", "Opinion"),
            "Meridian Media Group",
            "The Morning Ledger",
            "meridianledger",
        ),
        Outlet(
            "Perimeter Daily",
            "Security news for defenders",
            ("Threats", "Breaches", "Vulnerabilities", "Policy", "Research", "Podcasts"),
            "Perimeter Media Ltd",
            "the Perimeter Briefing",
            "perimeterdaily",
        ),
        Outlet(
            "Harbor Tech Journal",
            "Technology, chips and the law",
            ("Tech", "Chips", "Security", "Courts", "Policy", "Startups"),
            "Harbor Publishing Co.",
            "Harbor Tech Daily",
            "harbortech",
        ),
        Outlet(
            "Calder Bay Courier",
            "Serving Calder Bay since 1874",
            ("Local", "Business", "Sports", "Weather", "Opinion", "Obituaries"),
            "Courier Community Media",
            "the Courier Morning Edition",
            "cbcourier",
        ),
    )
}

_CSS = """
body{font-family:Georgia,serif;margin:0;color:#1a1a1a;background:#fafafa}
a{color:#0b4f8a}.skip-link{position:absolute;left:-999px}
.cookie-consent-banner{position:fixed;bottom:0;left:0;right:0;background:#222;color:#eee;
padding:1em;font-family:sans-serif;z-index:10}
.site-header,.site-footer,.trending,.newsletter-signup{font-family:sans-serif;padding:.5em 2em}
.site-header{border-bottom:3px solid #1a1a1a}.site-logo{font-size:2em;font-weight:bold;
text-decoration:none;color:#1a1a1a}.menu,.trending-list,.share-buttons,.footer-links{
list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1em}
.site-main{max-width:44em;margin:0 auto;padding:1em 2em}.article-body p{line-height:1.6}
.dateline{font-weight:bold}.ad-slot{background:#eee;text-align:center;padding:2em;
font:small sans-serif}aside,.conversation-teaser{font-family:sans-serif;border-top:1px solid #ccc;
margin-top:1.5em}.site-footer{background:#1a1a1a;color:#ccc}.site-footer a{color:#ccc}
"""


def outlet_for(name: str) -> Outlet:
    """The outlet's chrome; an unknown outlet gets a generic one."""
    known = OUTLETS.get(name)
    if known is not None:
        return known
    handle = re.sub(r"[^a-z0-9]", "", name.lower()) or "news"
    return Outlet(
        name, "Independent journalism", ("News", "Business", "Tech", "Opinion"),
        f"{name} Media", f"the {name} Briefing", handle,
    )  # fmt: skip


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _display_time(dt: datetime) -> str:
    offset = dt.strftime("%z")
    zone = "UTC" if offset in ("+0000", "") else f"UTC{offset[:3]}:{offset[3:]}"
    return f"{dt.day} {dt:%B %Y}, {dt:%H:%M} {zone}"


def _json_ld(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _comment_count(slug: str) -> int:
    return 3 + hashlib.sha256(slug.encode()).digest()[0] % 90


def _story_links(articles: Sequence[SampleArticle], *, css: str, with_time: bool) -> str:
    items = []
    for a in articles:
        time = (
            f' <time datetime="{a.published.isoformat()}">{_e(_display_time(a.published))}</time>'
        )
        items.append(
            f'<li class="{css}__item"><a class="{css}__link" href="{_e(a.path)}">'
            f"{_e(a.title)}</a>{time if with_time else ''}</li>"
        )
    return "\n".join(items)


def _cookie_banner() -> str:
    return f"""<div id="cookie-consent" class="cookie-consent-banner" role="dialog" \
aria-labelledby="cookie-consent-title">
  <h2 id="cookie-consent-title">Your privacy</h2>
  <p class="cookie-consent-text">{_e(COOKIE_TEXT)}</p>
  <div class="cookie-consent-actions">
    <button type="button" class="btn btn-primary" data-consent="all">Accept all</button>
    <button type="button" class="btn" data-consent="essential">Reject non-essential</button>
    <button type="button" class="btn-link" data-consent="manage">Manage preferences</button>
  </div>
</div>"""


def _site_header(name: str, tagline: str, sections: Sequence[str], current: str | None) -> str:
    nav = "\n".join(
        f'<li class="menu-item{" current" if s == current else ""}">'
        f'<a href="/section/{slugify(s)}">{_e(s)}</a></li>'
        for s in sections
    )
    return f"""<header class="site-header" role="banner">
  <div class="masthead">
    <a class="site-logo" href="/news/" rel="home">{_e(name)}</a>
    <p class="site-tagline">{_e(tagline)}</p>
    <div class="account-links"><a href="/subscribe" class="btn-subscribe">Subscribe</a>
      <a href="/account/sign-in">Sign in</a></div>
  </div>
  <nav class="primary-nav" aria-label="Sections">
    <ul class="menu">
<li class="menu-item"><a href="/news/">Latest</a></li>
{nav}
    </ul>
  </nav>
</header>"""


def _newsletter(newsletter: str) -> str:
    return f"""<aside class="newsletter-signup" aria-labelledby="newsletter-heading">
  <h2 id="newsletter-heading">Sign up for {_e(newsletter)}</h2>
  <p>{_e(NEWSLETTER_TEXT)}</p>
  <form class="newsletter-form" action="/newsletter/subscribe" method="post">
    <label for="newsletter-email">Email address</label>
    <input type="email" id="newsletter-email" name="email" placeholder="you@example.com" required>
    <button type="submit">Sign up</button>
  </form>
  <p class="newsletter-legal">By signing up you agree to our <a href="/privacy">Privacy policy</a>
    and <a href="/terms">Terms of use</a>.</p>
</aside>"""


def _site_footer(publisher: str, year: int, handle: str) -> str:
    links = (
        ("/about", "About us"), ("/contact", "Contact"), ("/careers", "Careers"),
        ("/advertise", "Advertise"), ("/privacy", "Privacy policy"), ("/terms", "Terms of use"),
        ("/privacy#cookies", "Cookie settings"), ("/accessibility", "Accessibility"),
        ("/feed.xml", "RSS"),
    )  # fmt: skip
    items = "\n".join(f'<li><a href="{href}">{_e(text)}</a></li>' for href, text in links)
    return f"""<footer class="site-footer" role="contentinfo">
  <nav class="footer-nav" aria-label="Footer">
    <ul class="footer-links">
{items}
    </ul>
  </nav>
  <ul class="footer-social">
    <li><a href="https://x.com/{_e(handle)}" rel="noopener">X</a></li>
    <li><a href="https://www.linkedin.com/company/{_e(handle)}" rel="noopener">LinkedIn</a></li>
  </ul>
  <p class="copyright">© {year} {_e(publisher)}. {RIGHTS_TEXT}</p>
  <p class="network">Part of the {NETWORK_NAME}.</p>
</footer>"""


def _document(head: str, body_class: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{head}
<style>{_CSS}</style>
</head>
<body class="{body_class}">
{body}
</body>
</html>
"""


def _pick_chrome_links(
    article: SampleArticle, others: Sequence[SampleArticle]
) -> tuple[list[SampleArticle], list[SampleArticle]]:
    """Trending (newest others) and related (same section or watch first) for an article page."""
    pool = [o for o in others if o.slug != article.slug]
    trending = sorted(pool, key=lambda a: (a.published, a.slug), reverse=True)[:5]

    def closeness(a: SampleArticle) -> tuple[bool, bool, datetime, str]:
        shares_watch = bool(set(a.expect) & set(article.expect))
        return (a.section == article.section, shares_watch, a.published, a.slug)

    related = sorted(pool, key=closeness, reverse=True)[:3]
    return trending, related


def render_article_page(
    article: SampleArticle,
    *,
    base_url: str,
    others: Sequence[SampleArticle] = (),
    modified: datetime | None = None,
) -> str:
    """A complete HTML5 article page in its outlet's chrome.

    ``others`` feeds the "What's hot" and "Related stories" blocks (links to other articles).
    """
    outlet = outlet_for(article.outlet)
    url = base_url + article.path
    modified = modified or article.published
    author_url = f"{base_url}/authors/{slugify(article.author)}"
    description = article.description
    trending, related = _pick_chrome_links(article, others)

    json_ld = _json_ld(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": article.title,
            "description": description,
            "datePublished": article.published.isoformat(),
            "dateModified": modified.isoformat(),
            "author": [{"@type": "Person", "name": article.author, "url": author_url}],
            "publisher": {
                "@type": "Organization",
                "name": outlet.name,
                "logo": {"@type": "ImageObject", "url": f"{base_url}/static/logo.png"},
            },
            "mainEntityOfPage": {"@type": "WebPage", "@id": url},
            "articleSection": article.section,
            "inLanguage": "en",
            "isAccessibleForFree": True,
            "wordCount": article.word_count,
        }
    )
    head = f"""<title>{_e(article.title)} | {_e(outlet.name)}</title>
<meta name="description" content="{_e(description)}">
<meta name="author" content="{_e(article.author)}">
<meta name="robots" content="index, follow, max-image-preview:large">
<link rel="canonical" href="{_e(url)}">
<link rel="alternate" type="application/rss+xml" title="{_e(NETWORK_NAME)}" \
href="{_e(base_url)}/feed.xml">
<meta property="og:type" content="article">
<meta property="og:site_name" content="{_e(outlet.name)}">
<meta property="og:title" content="{_e(article.title)}">
<meta property="og:description" content="{_e(description)}">
<meta property="og:url" content="{_e(url)}">
<meta property="article:published_time" content="{article.published.isoformat()}">
<meta property="article:modified_time" content="{modified.isoformat()}">
<meta property="article:section" content="{_e(article.section)}">
<meta property="article:author" content="{_e(author_url)}">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:site" content="@{_e(outlet.handle)}">
<script type="application/ld+json">
{json_ld}
</script>"""

    paragraphs: list[str] = []
    for i, text in enumerate(article.body):
        if i == 0 and article.dateline:
            paragraphs.append(
                f'<p><span class="dateline">{_e(article.dateline)}</span> — {_e(text)}</p>'
            )
        else:
            paragraphs.append(f"<p>{_e(text)}</p>")
        if i == 2 and len(article.body) > 4:
            paragraphs.append(
                '<div class="ad-slot ad-inline" aria-hidden="true">'
                f'<span class="ad-label">{AD_LABEL}</span><div class="ad-container"></div></div>'
            )
    body_html = "\n".join(paragraphs)

    share_text = quote(article.title)
    share_url = quote(url, safe="")
    share = f"""<div class="social-share" aria-label="Share this article">
      <span class="share-label">Share this article</span>
      <ul class="share-buttons">
        <li><a class="share-x" href="https://x.com/intent/post?url={share_url}&amp;text={share_text}"\
 rel="noopener">Share on X</a></li>
        <li><a class="share-linkedin" \
href="https://www.linkedin.com/sharing/share-offsite/?url={share_url}" rel="noopener">\
Share on LinkedIn</a></li>
        <li><a class="share-email" href="mailto:?subject={share_text}&amp;body={share_url}">\
Email</a></li>
        <li><button type="button" class="share-copy" data-url="{_e(url)}">Copy link</button></li>
      </ul>
    </div>"""

    time_html = (
        f'<time class="published" datetime="{article.published.isoformat()}">'
        f"{_e(_display_time(article.published))}</time>"
    )
    byline = _e(article.byline_text).replace(
        _e(article.author), f'<a rel="author" href="{_e(author_url)}">{_e(article.author)}</a>', 1
    )
    standfirst = (
        f'<p class="article-standfirst">{_e(article.summary)}</p>' if article.summary else ""
    )
    comments = _comment_count(article.slug)
    body = f"""<a class="skip-link" href="#main-content">Skip to content</a>
{_cookie_banner()}
{_site_header(outlet.name, outlet.tagline, outlet.sections, article.section)}
<aside class="trending" aria-labelledby="trending-heading">
  <h2 id="trending-heading" class="trending-title">{_e(TRENDING_HEADING)}</h2>
  <ol class="trending-list">
{_story_links(trending, css="trending-list", with_time=False)}
  </ol>
</aside>
<main id="main-content" class="site-main">
  <article class="article">
    <header class="article-header">
      <p class="article-kicker"><a href="/section/{slugify(article.section)}">\
{_e(article.section)}</a></p>
      <h1 class="article-title">{_e(article.title)}</h1>
      {standfirst}
      <div class="article-meta">
        <p class="byline">{byline}</p>
        {time_html}
      </div>
    </header>
    {share}
    <div class="article-body">
{body_html}
    </div>
  </article>
  <aside class="author-bio" aria-labelledby="author-bio-heading">
    <h2 id="author-bio-heading">{AUTHOR_BIO_HEADING}</h2>
    <p><a href="{_e(author_url)}"><strong>{_e(article.author)}</strong></a> is a staff reporter at \
{_e(outlet.name)} covering {_e(article.section.lower())}. {_e(TIPS_TEXT)}</p>
  </aside>
  <section id="conversation" class="conversation-teaser" data-embed="coral-talk" \
aria-labelledby="conversation-heading">
    <h2 id="conversation-heading">{COMMENTS_HEADING}</h2>
    <p><span class="conversation-count">{comments} comments</span>. {_e(COMMENTS_TEXT)}</p>
    <a class="btn" href="{_e(article.path)}#conversation">View comments</a>
  </section>
  <aside class="related-stories" aria-labelledby="related-heading">
    <h2 id="related-heading">{RELATED_HEADING}</h2>
    <ul class="related-list">
{_story_links(related, css="related-list", with_time=True)}
    </ul>
  </aside>
</main>
{_newsletter(outlet.newsletter)}
{_site_footer(outlet.publisher, article.published.year, outlet.handle)}"""
    return _document(head, f"single single-article section-{slugify(article.section)}", body)


def render_index_page(articles: Sequence[SampleArticle], *, base_url: str) -> str:
    """The /news/ front page: article cards amid navigation, "Most read" and footer links."""
    cards = []
    for a in articles:
        cards.append(f"""<article class="story-card">
  <p class="story-card__kicker"><a href="/section/{slugify(a.section)}">{_e(a.section)}</a>
    · <span class="story-card__outlet">{_e(a.outlet)}</span></p>
  <h2 class="story-card__title"><a href="{_e(a.path)}">{_e(a.title)}</a></h2>
  <p class="story-card__summary">{_e(a.description)}</p>
  <p class="story-card__meta">{_e(a.byline_text)} · <time datetime="{a.published.isoformat()}">\
{_e(_display_time(a.published))}</time></p>
</article>""")
    most_read = sorted(articles, key=lambda a: _comment_count(a.slug), reverse=True)[:5]
    sections = sorted({a.section for a in articles})
    year = max((a.published.year for a in articles), default=2026)
    head = f"""<title>Latest news | {_e(NETWORK_NAME)}</title>
<meta name="description" content="The latest reporting from the {_e(NETWORK_NAME)}.">
<link rel="canonical" href="{_e(base_url)}/news/">
<link rel="alternate" type="application/rss+xml" title="{_e(NETWORK_NAME)}" \
href="{_e(base_url)}/feed.xml">
<link rel="alternate" type="application/atom+xml" title="{_e(NETWORK_NAME)} (Atom)" \
href="{_e(base_url)}/atom.xml">
<meta property="og:type" content="website">
<meta property="og:site_name" content="{_e(NETWORK_NAME)}">
<meta property="og:title" content="Latest news">"""
    card_html = "\n".join(cards)
    body = f"""<a class="skip-link" href="#main-content">Skip to content</a>
{_cookie_banner()}
{_site_header(NETWORK_NAME, "News from our mastheads", sections, None)}
<main id="main-content" class="site-main">
  <h1 class="page-title">Latest news</h1>
  <div class="story-list">
{card_html}
  </div>
  <nav class="pagination" aria-label="More stories">
    <a href="/news/?page=2" rel="next">Older stories</a>
  </nav>
</main>
<aside class="most-read" aria-labelledby="most-read-heading">
  <h2 id="most-read-heading">Most read</h2>
  <ol class="most-read-list">
{_story_links(most_read, css="most-read-list", with_time=False)}
  </ol>
</aside>
{_newsletter("the Northgate Daily")}
{_site_footer("Northgate News Network Ltd", year, "northgatenews")}"""
    return _document(head, "archive news-index", body)


def render_error_page(status: int, reason: str, *, base_url: str) -> str:
    """A small error page in the network's chrome (404, 500, ...)."""
    head = f"""<title>{status} {_e(reason)} | {_e(NETWORK_NAME)}</title>
<meta name="robots" content="noindex">"""
    body = f"""{_site_header(NETWORK_NAME, "News from our mastheads", (), None)}
<main id="main-content" class="site-main error-page">
  <h1>{status} {_e(reason)}</h1>
  <p>Sorry, something went wrong. Try the <a href="{_e(base_url)}/news/">latest news</a>.</p>
</main>
{_site_footer("Northgate News Network Ltd", 2026, "northgatenews")}"""
    return _document(head, "error", body)
