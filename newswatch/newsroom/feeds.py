"""Machine-readable listings of the newsroom: RSS 2.0, Atom 1.0, a Google News sitemap, robots.txt.

Every function takes the articles newest first and absolute URLs built from ``base_url``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from newswatch.newsroom.pages import NETWORK_NAME
from newswatch.newsroom.samples import SampleArticle

_DEFAULT_UPDATED = datetime(2026, 1, 1, tzinfo=UTC)


def _x(text: str) -> str:
    return html.escape(text, quote=True)


def _rfc3339(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def render_rss(
    articles: Sequence[SampleArticle], *, base_url: str, updated: datetime | None = None
) -> str:
    updated = updated or max((a.published for a in articles), default=_DEFAULT_UPDATED)
    items = []
    for a in articles:
        url = base_url + a.path
        items.append(f"""    <item>
      <title>{_x(a.title)}</title>
      <link>{_x(url)}</link>
      <guid isPermaLink="true">{_x(url)}</guid>
      <pubDate>{format_datetime(a.published)}</pubDate>
      <dc:creator>{_x(a.author)}</dc:creator>
      <category>{_x(a.section)}</category>
      <source url="{_x(base_url)}/feed.xml">{_x(a.outlet)}</source>
      <description>{_x(a.description)}</description>
    </item>""")
    body = "\n".join(items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" \
xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>{_x(NETWORK_NAME)}: latest news</title>
    <link>{_x(base_url)}/news/</link>
    <description>Security, trade and business reporting from the {_x(NETWORK_NAME)}.</description>
    <language>en</language>
    <lastBuildDate>{format_datetime(updated.astimezone(UTC), usegmt=True)}</lastBuildDate>
    <ttl>15</ttl>
    <atom:link href="{_x(base_url)}/feed.xml" rel="self" type="application/rss+xml"/>
{body}
  </channel>
</rss>
"""


def render_atom(
    articles: Sequence[SampleArticle],
    *,
    base_url: str,
    updated: datetime | None = None,
    modified: dict[str, datetime] | None = None,
) -> str:
    updated = updated or max((a.published for a in articles), default=_DEFAULT_UPDATED)
    modified = modified or {}
    entries = []
    for a in articles:
        url = base_url + a.path
        entries.append(f"""  <entry>
    <title>{_x(a.title)}</title>
    <link rel="alternate" type="text/html" href="{_x(url)}"/>
    <id>{_x(url)}</id>
    <published>{_rfc3339(a.published)}</published>
    <updated>{_rfc3339(modified.get(a.slug, a.published))}</updated>
    <author><name>{_x(a.author)}</name></author>
    <category term="{_x(a.section)}"/>
    <summary type="text">{_x(a.description)}</summary>
  </entry>""")
    body = "\n".join(entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>{_x(NETWORK_NAME)}: latest news</title>
  <subtitle>Security, trade and business reporting.</subtitle>
  <id>{_x(base_url)}/atom.xml</id>
  <link rel="self" type="application/atom+xml" href="{_x(base_url)}/atom.xml"/>
  <link rel="alternate" type="text/html" href="{_x(base_url)}/news/"/>
  <updated>{_rfc3339(updated)}</updated>
{body}
</feed>
"""


def render_news_sitemap(
    articles: Sequence[SampleArticle],
    *,
    base_url: str,
    modified: dict[str, datetime] | None = None,
) -> str:
    """A Google News sitemap (``news:`` extension) listing every article."""
    modified = modified or {}
    urls = []
    for a in articles:
        urls.append(f"""  <url>
    <loc>{_x(base_url + a.path)}</loc>
    <lastmod>{_rfc3339(modified.get(a.slug, a.published))}</lastmod>
    <news:news>
      <news:publication>
        <news:name>{_x(a.outlet)}</news:name>
        <news:language>en</news:language>
      </news:publication>
      <news:publication_date>{_rfc3339(a.published)}</news:publication_date>
      <news:title>{_x(a.title)}</news:title>
    </news:news>
  </url>""")
    body = "\n".join(urls)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" \
xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{body}
</urlset>
"""


def render_robots(*, base_url: str) -> str:
    return f"User-agent: *\nAllow: /\n\nSitemap: {base_url}/sitemap.xml\n"
