"""Link discovery: the article URLs a source lists (feed, sitemap, or HTML index page).

Every result is canonicalised (`urls.canonical_url`), http(s) only, de-duplicated in
document order and capped at `limit`. Input that is not what its kind says raises
`LinkDiscoveryError` with the parser's reason.
"""

from __future__ import annotations

import calendar
import html as html_lib
import io
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import feedparser
from lxml import etree, html

from extractors.urls import canonical_url, is_http_url
from newswatch.models import Link


class LinkDiscoveryError(ValueError):
    """The content could not be read as the kind of source it was said to be."""


@dataclass(frozen=True, slots=True)
class SitemapResult:
    """A parsed sitemap: article links (urlset) and/or child sitemaps (sitemapindex)."""

    links: list[Link] = field(default_factory=list)
    child_sitemaps: list[str] = field(default_factory=list)


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


# --- RSS / Atom -------------------------------------------------------------------------


def parse_feed(content: bytes, base_url: str, *, limit: int = 500) -> list[Link]:
    """Entries of an RSS (0.9x, 1.0, 2.0) or Atom feed."""
    # A file object, never a str/bytes: feedparser treats strings as possible URLs/paths.
    # The content type is asserted so feedparser does not flag every feed for lacking one.
    parsed = feedparser.parse(
        io.BytesIO(content),
        response_headers={"content-location": base_url, "content-type": "application/xml"},
    )
    entries: list[Any] = list(parsed.get("entries") or [])
    if not entries and (parsed.get("bozo") or not parsed.get("version")):
        problem = parsed.get("bozo_exception")
        reason = _one_line(str(problem)) if problem else "no RSS or Atom root element found"
        raise LinkDiscoveryError(f"not a valid RSS/Atom feed: {reason}")
    # A minor bozo (e.g. a wrong declared encoding) with entries is still a usable feed.
    return _collect(((_entry_link(e), e) for e in entries), base_url, limit, _entry_to_link)


def _entry_link(entry: Any) -> str | None:
    link = entry.get("link")
    if link:
        return str(link)
    for candidate in entry.get("links") or []:
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    # Some Atom feeds carry the article URL only as the entry id.
    entry_id = entry.get("id")
    return str(entry_id) if entry_id and is_http_url(str(entry_id)) else None


def _entry_to_link(url: str, entry: Any) -> Link:
    title = entry.get("title")
    if title and "html" in str((entry.get("title_detail") or {}).get("type", "")):
        title = _html_to_text(title)
    title = _clean_text(title)
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    # feedparser normalises dates to UTC struct_time.
    published = datetime.fromtimestamp(calendar.timegm(when), UTC) if when else None
    return Link(url=url, title=title, published_at=published)


# --- Sitemaps ---------------------------------------------------------------------------

# The sitemap protocol caps an uncompressed sitemap at 50 MB.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_SAFE_XML = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=False,
    load_dtd=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_sitemap(content: bytes, base_url: str, *, limit: int = 500) -> SitemapResult:
    """A `<urlset>` (plain or Google News) or a `<sitemapindex>`, optionally gzipped.

    A link's `published_at` is `news:publication_date`, else `<lastmod>` (the closest
    thing a plain sitemap has); its title is `news:title`.
    """
    content = _gunzip_if_needed(content)
    try:
        root = etree.fromstring(content, parser=_SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise LinkDiscoveryError(f"not a valid sitemap: {_one_line(str(exc))}") from exc
    if root is None:
        raise LinkDiscoveryError("not a valid sitemap: empty document")
    root_name = etree.QName(root).localname
    if root_name == "sitemapindex":
        children = [loc for loc, _ in _sitemap_entries(root, "sitemap")]
        return SitemapResult(child_sitemaps=_unique_urls(children, base_url, limit))
    if root_name != "urlset":
        raise LinkDiscoveryError(
            f"not a sitemap: root element is <{root_name}>, expected <urlset> or <sitemapindex>"
        )
    return SitemapResult(
        links=_collect(_sitemap_entries(root, "url"), base_url, limit, _sitemap_to_link)
    )


def _gunzip_if_needed(content: bytes) -> bytes:
    if not content.startswith(b"\x1f\x8b"):
        return content
    # Bounded decompression: a small .gz must not expand without limit.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(content, MAX_SITEMAP_BYTES + 1)
    except zlib.error as exc:
        raise LinkDiscoveryError(f"not a valid sitemap: bad gzip data ({exc})") from exc
    if len(data) > MAX_SITEMAP_BYTES:
        raise LinkDiscoveryError(f"sitemap larger than {MAX_SITEMAP_BYTES} bytes uncompressed")
    return data


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    # Match by local name: sitemaps in the wild use the 0.9 namespace, older ones, or none.
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            yield child


def _child_text(element: etree._Element, *path: str) -> str | None:
    node: etree._Element | None = element
    for name in path:
        node = next(_children(node, name), None) if node is not None else None
    return node.text.strip() if node is not None and node.text else None


def _sitemap_entries(root: etree._Element, entry_tag: str) -> Iterator[tuple[str, Any]]:
    for entry in _children(root, entry_tag):
        loc = _child_text(entry, "loc")
        if loc:
            yield loc, entry


def _sitemap_to_link(url: str, entry: Any) -> Link:
    title = _clean_text(_child_text(entry, "news", "title"))
    published = parse_w3c_datetime(_child_text(entry, "news", "publication_date"))
    if published is None:
        published = parse_w3c_datetime(_child_text(entry, "lastmod"))
    return Link(url=url, title=title, published_at=published)


def parse_w3c_datetime(value: str | None) -> datetime | None:
    """A W3C/ISO 8601 date or datetime as an aware UTC datetime; None if absent or invalid.

    A date alone means midnight UTC; a datetime without an offset is taken as UTC.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


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
        raise LinkDiscoveryError(f"not an HTML page: {_one_line(str(exc))}") from exc
    base = _document_base(tree, base_url)
    site = _site_key(base)
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
        try:
            url = canonical_url(href, base)
        except ValueError:
            continue
        if not is_http_url(url) or not _same_site(url, site) or not _looks_like_article(url):
            continue
        text = _clean_text(anchor.text_content()) or _clean_text(anchor.get("title"))
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
        try:
            resolved = canonical_url(href, base_url)
        except ValueError:
            continue
        if is_http_url(resolved):
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


# --- shared -------------------------------------------------------------------------------


def _collect(
    items: Iterable[tuple[str | None, Any]],
    base_url: str,
    limit: int,
    make: Callable[[str, Any], Link],
) -> list[Link]:
    """Canonicalise, keep http(s), de-duplicate in order, cap; `make` builds each Link."""
    seen: set[str] = set()
    links: list[Link] = []
    for raw, item in items:
        if len(links) >= limit:
            break
        url = _canonical_or_none(raw, base_url)
        if url is None or url in seen:
            continue
        seen.add(url)
        links.append(make(url, item))
    return links


def _unique_urls(raw_urls: Iterable[str], base_url: str, limit: int) -> list[str]:
    return [link.url for link in _collect(((u, None) for u in raw_urls), base_url, limit, _bare)]


def _bare(url: str, _item: Any) -> Link:
    return Link(url=url)


def _canonical_or_none(raw: str | None, base_url: str) -> str | None:
    if not raw:
        return None
    try:
        url = canonical_url(raw, base_url)
    except ValueError:
        return None
    return url if is_http_url(url) else None


def _clean_text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


def _html_to_text(markup: str) -> str:
    return html_lib.unescape(_TAG.sub("", markup))


_TAG = re.compile(r"<[^<>]*>")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
