"""Link discovery: the article URLs a source lists (feed, sitemap, or HTML index page).

Every result is canonicalised (`urls.canonical_url`), http(s) only, not pointing inside a
network unless on the listing's own host (`linkset.listed_url`), de-duplicated in
document order and capped at `limit`. Input that is not what its kind says raises
`LinkDiscoveryError` with the parser's reason. Feeds are read by `feeds`, sitemaps by
`sitemaps` (both streamed, with XML entity declarations refused); index pages here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree, html

from extractors.feeds import parse_feed
from extractors.linkset import (
    LinkDiscoveryError,
    clean_text,
    host_of_listing,
    listed_url,
    one_line,
    parse_w3c_datetime,
)
from extractors.sitemaps import MAX_SITEMAP_BYTES, SitemapResult, parse_sitemap
from newswatch.models import Link

__all__ = [
    "MAX_SITEMAP_BYTES",
    "LinkDiscoveryError",
    "SitemapResult",
    "discover_links",
    "parse_feed",
    "parse_html_index",
    "parse_sitemap",
    "parse_w3c_datetime",
]


def discover_links(kind: str, content: bytes, base_url: str, *, limit: int = 500) -> list[Link]:
    """Article links found in `content` fetched from `base_url`.

    `kind` is one of "rss", "atom", "sitemap", "html_index". For a sitemap index this
    returns no links: use `parse_sitemap` to get the child sitemaps to fetch.
    """
    if kind in ("rss", "atom"):
        return parse_feed(content, base_url, limit=limit)
    if kind == "sitemap":
        return parse_sitemap(content, base_url, limit=limit).links
    if kind == "html_index":
        return parse_html_index(content, base_url, limit=limit)
    raise LinkDiscoveryError(
        f"unknown source kind {kind!r} (expected rss, atom, sitemap or html_index)"
    )


# --- HTML index pages -------------------------------------------------------------------

# Page chrome whose links are navigation, not articles. <header> only counts outside an
# <article> (a teaser card's headline often sits in its own <header>).
_CHROME_XPATH = (
    "//nav | //footer | //aside | //form | //header[not(ancestor::article)]"
    " | //*[@role='navigation' or @role='contentinfo' or @role='banner'"
    " or @role='complementary' or @role='search' or @role='menu' or @role='menubar']"
)
# A path segment naming a listing or service page rather than an article.
_NON_ARTICLE_SEGMENTS = frozenset(
    {
        "tag",
        "tags",
        "category",
        "categories",
        "topic",
        "topics",
        "section",
        "sections",
        "author",
        "authors",
        "profile",
        "people",
        "login",
        "logout",
        "signin",
        "sign-in",
        "signup",
        "sign-up",
        "register",
        "subscribe",
        "subscription",
        "subscriptions",
        "account",
        "newsletter",
        "newsletters",
        "search",
        "about",
        "about-us",
        "contact",
        "contact-us",
        "privacy",
        "privacy-policy",
        "terms",
        "terms-of-service",
        "terms-of-use",
        "cookies",
        "cookie-policy",
        "feed",
        "feeds",
        "rss",
        "page",
        "archive",
        "archives",
        "video",
        "videos",
        "gallery",
        "galleries",
        "podcast",
        "podcasts",
        "events",
        "jobs",
        "careers",
        "advertise",
        "shop",
        "cart",
        "wp-login.php",
        "wp-admin",
    }
)
_NON_ARTICLE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".svg",
    ".pdf",
    ".zip",
    ".xml",
    ".rss",
    ".css",
    ".js",
    ".json",
    ".mp3",
    ".mp4",
)
_SKIPPED_HREF = re.compile(r"^\s*(#|mailto:|javascript:|tel:|sms:|data:|ftp:)", re.I)
_WORD = re.compile(r"[^\W\d_]{2,}")  # a run of 2+ letters, any script
_DATE_PATH = re.compile(
    r"/(19|20)\d\d/(0?[1-9]|1[0-2])(/(0?[1-9]|[12]\d|3[01]))?/[^/]+"  # /2024/05/(01/)slug
    r"|/(19|20)\d\d-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(/|-)[^/]+"  # /2024-05-01/slug
)
_NUMERIC_ID = re.compile(r"^\d{6,}(\.s?html?)?$")
_DATE_LIKE = re.compile(r"^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")


def parse_html_index(content: bytes, base_url: str, *, limit: int = 500) -> list[Link]:
    """Article links on a section/front page.

    Heuristic: links outside page chrome (nav, header, footer, aside, forms, ARIA
    navigation/banner/contentinfo regions), on the same site (same host ignoring "www.",
    or a subdomain of it), whose path looks like an article: a segment that is a slug of
    at least three words ("chip-designs-stolen-by-insider"), or a date followed by
    another segment (/2024/05/01/slug), or a long numeric id under a section
    (/news/12345678). Listing and service paths (tag, category, author, login, search,
    page, feed, ...) and media files are excluded. A link's title is its longest anchor
    text (teaser headline rather than "Read more"); its date is a <time datetime> in the
    enclosing <article>, if there is one.
    """
    if not content.strip():
        raise LinkDiscoveryError("not an HTML page: empty document")
    try:
        tree = html.fromstring(content, parser=html.HTMLParser(no_network=True))
    except (etree.ParserError, ValueError) as exc:
        raise LinkDiscoveryError(f"not an HTML page: {one_line(str(exc))}") from exc
    base = _document_base(tree, base_url)
    site = _site_key(base)
    own_host = host_of_listing(base_url)
    for chrome in tree.xpath(_CHROME_XPATH):
        parent = chrome.getparent()
        if parent is not None:
            parent.remove(chrome)

    titles: dict[str, str | None] = {}
    dates: dict[str, datetime | None] = {}
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if not href or _SKIPPED_HREF.match(href):
            continue
        url = listed_url(href, base, own_host=own_host)
        if url is None or not _same_site(url, site) or not _looks_like_article(url):
            continue
        text = clean_text(anchor.text_content()) or clean_text(anchor.get("title"))
        if url not in titles:
            if len(titles) >= limit:
                break
            titles[url], dates[url] = text, _teaser_date(anchor)
        elif text and len(text) > len(titles[url] or ""):
            titles[url] = text
    return [Link(url=u, title=t, published_at=dates[u]) for u, t in titles.items()]


def _document_base(tree: Any, base_url: str) -> str:
    for base in tree.xpath("//base[@href]"):
        href = str(base.get("href"))
        resolved = listed_url(href, base_url, own_host=host_of_listing(base_url))
        if resolved is not None:
            return resolved
    return base_url


def _site_key(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _same_site(url: str, site: str) -> bool:
    host = _site_key(url)
    return bool(site) and (host == site or host.endswith("." + site))


def _looks_like_article(url: str) -> bool:
    path = unquote(urlsplit(url).path)
    lowered = path.lower()
    if lowered.endswith(_NON_ARTICLE_EXTENSIONS):
        return False
    segments = [s for s in lowered.split("/") if s]
    if not segments or any(s in _NON_ARTICLE_SEGMENTS for s in segments):
        return False
    if _DATE_PATH.search(lowered):
        return True
    for segment in segments:
        stem = re.sub(r"\.(s?html?|php|aspx?)$", "", segment)
        if len(re.split(r"[-_]", stem)) >= 3 and len(_WORD.findall(stem)) >= 3:
            return True
    # A bare yyyymmdd is a day's archive, not an article id.
    last = segments[-1]
    return len(segments) >= 2 and bool(_NUMERIC_ID.match(last)) and not _DATE_LIKE.match(last)


def _teaser_date(anchor: Any) -> datetime | None:
    for container in anchor.iterancestors("article"):
        for stamp in container.iter("time"):
            parsed = parse_w3c_datetime(stamp.get("datetime"))
            if parsed:
                return parsed
        break
    return None
