"""Sitemaps: `<urlset>` (plain or Google News) and `<sitemapindex>`, optionally gzipped.

Streamed like feeds (`feeds`): lxml `iterparse` with no entity resolution, no DTD, no
network, entity declarations refused beforehand, each `<url>` freed once read, stopping
at `limit`. A gzipped sitemap is inflated as it is parsed, never more than
MAX_SITEMAP_BYTES in all and never more than one read's worth at a time, so neither a
50,000-URL sitemap nor a gzip bomb grows memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from extractors.bodies import BoundedDecoder, CorruptEncoding
from extractors.linkset import (
    LinkCollector,
    LinkDiscoveryError,
    clean_text,
    one_line,
    parse_w3c_datetime,
)
from extractors.xml_safety import PROLOG_LIMIT, UnsafeXML, refuse_entity_declarations
from newswatch.models import Link

# The sitemap protocol caps an uncompressed sitemap at 50 MB.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class SitemapResult:
    """A parsed sitemap: article links (urlset) and/or child sitemaps (sitemapindex)."""

    links: list[Link] = field(default_factory=list)
    child_sitemaps: list[str] = field(default_factory=list)


def parse_sitemap(content: bytes, base_url: str, *, limit: int = 500) -> SitemapResult:
    """Links of a `<urlset>` or child sitemaps of a `<sitemapindex>`, at most `limit`.

    A link's `published_at` is `news:publication_date`, else `<lastmod>` (the closest
    thing a plain sitemap has); its title is `news:title`. A sitemap broken after some
    entries gives those entries.
    """
    gzipped = content.startswith(b"\x1f\x8b")
    try:
        head = _Gunzipped(content).read(PROLOG_LIMIT) if gzipped else content
        refuse_entity_declarations(head)
    except UnsafeXML as exc:
        raise LinkDiscoveryError(f"not a valid sitemap: {exc}") from exc
    source: Any = _Gunzipped(content) if gzipped else _Chunks(content)
    links = LinkCollector(base_url, limit)
    children = LinkCollector(base_url, limit)
    try:
        root_name = _stream(source, links, children)
    except etree.XMLSyntaxError as exc:
        if links.links or children.links:
            return SitemapResult(links.links, [c.url for c in children.links])
        raise LinkDiscoveryError(f"not a valid sitemap: {one_line(str(exc))}") from exc
    if root_name not in ("urlset", "sitemapindex"):
        raise LinkDiscoveryError(
            f"not a sitemap: root element is <{root_name}>, expected <urlset> or <sitemapindex>"
        )
    return SitemapResult(links.links, [c.url for c in children.links])


def _stream(source: Any, links: LinkCollector, children: LinkCollector) -> str:
    """Parse until `limit` entries are collected; the root element's local name."""
    root: Any = None
    for event, element in etree.iterparse(
        source,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    ):
        if root is None:
            root = element
            if _local(root) not in ("urlset", "sitemapindex"):
                return _local(root)
            continue
        if event != "end" or element.getparent() is not root:
            continue
        name = _local(element)
        if name == "url":
            _add_url(element, links)
        elif name == "sitemap":
            children.add(_child_text(element, "loc"), _bare)
        _free(element, root)
        if links.full or children.full:
            break
    if root is None:
        raise LinkDiscoveryError("not a valid sitemap: empty document")
    return _local(root)


def _add_url(entry: Any, links: LinkCollector) -> None:
    title = clean_text(_child_text(entry, "news", "title"))
    published = parse_w3c_datetime(_child_text(entry, "news", "publication_date"))
    if published is None:
        published = parse_w3c_datetime(_child_text(entry, "lastmod"))
    links.add(
        _child_text(entry, "loc"),
        lambda url: Link(url=url, title=title, published_at=published),
    )


def _bare(url: str) -> Link:
    return Link(url=url)


def _free(element: Any, root: Any) -> None:
    element.clear(keep_tail=False)
    while element.getprevious() is not None:
        del root[0]


def _local(element: Any) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(element: Any, *path: str) -> str | None:
    # Match by local name: sitemaps in the wild use the 0.9 namespace, older ones, or none.
    node: Any = element
    for name in path:
        node = next(
            (c for c in node if isinstance(c.tag, str) and etree.QName(c.tag).localname == name),
            None,
        )
        if node is None:
            return None
    text = node.text.strip() if node.text else ""
    return text or None


class _Chunks:
    """Bytes as a file, read in bounded pieces (iterparse then parses incrementally)."""

    def __init__(self, content: bytes) -> None:
        self._content = content
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        size = _READ_SIZE if size is None or size < 0 else min(size, _READ_SIZE)
        piece = self._content[self._pos : self._pos + size]
        self._pos += len(piece)
        return piece


class _Gunzipped:
    """A gzip body as a file of its inflated bytes, inflated one read at a time."""

    def __init__(self, content: bytes) -> None:
        self._raw = _Chunks(content)
        self._decoder = BoundedDecoder("gzip")
        self._total = 0

    def read(self, size: int = -1) -> bytes:
        size = _READ_SIZE if size is None or size < 0 else min(size, _READ_SIZE)
        while True:
            data = b"" if self._decoder.pending else self._raw.read(_READ_SIZE)
            if not data and not self._decoder.pending:
                return b""
            try:
                out = self._decoder.decode(data, size - 1)
            except CorruptEncoding as exc:
                raise LinkDiscoveryError(f"not a valid sitemap: {exc}") from exc
            self._total += len(out)
            if self._total > MAX_SITEMAP_BYTES:
                raise LinkDiscoveryError(
                    f"sitemap larger than {MAX_SITEMAP_BYTES} bytes uncompressed"
                )
            if out:
                return out
