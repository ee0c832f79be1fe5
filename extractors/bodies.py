"""Response bodies: which media types are read, and decompression that cannot blow up.

Decompression is done here rather than by httpx so that it is bounded per call: a
network chunk of a few kilobytes of gzip can expand to gigabytes, and httpx inflates each
chunk whole before the caller can count it. `BoundedDecoder.decode(data, room)` never
produces more than `room + 1` bytes, keeping the rest of the input for later, so the
reader stops at the cap with at most the cap in memory.
"""

from __future__ import annotations

import zlib

# Only what `BoundedDecoder` decodes is asked for: a server sending br or zstd anyway
# is refused (FetchError kind "content_type"), never decoded without a bound.
ACCEPT_ENCODING = "gzip, deflate"
_GZIP_NAMES = frozenset({"gzip", "x-gzip"})
_DECODED = _GZIP_NAMES | {"deflate"}
# Real compressions we do not decode: refused. Other tokens ("utf-8", "none", "binary":
# server misconfigurations, not compression) are ignored, as browsers and httpx do.
_NOT_DECODED = frozenset({"br", "zstd", "compress", "x-compress", "lzma", "xz", "bzip2"})

# Media types newswatch reads: HTML pages, feeds and sitemaps (XML, any "+xml" type),
# gzipped sitemaps, and text/plain, which some servers use for feeds (the parsers sniff
# the content and refuse what is not theirs). A missing Content-Type is also read.
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_XML_TYPES = frozenset({"text/xml", "application/xml"})
_LENIENT_TYPES = frozenset({"text/plain"})
_GZIP_TYPES = frozenset({"application/gzip", "application/x-gzip"})

ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ACCEPT_FEED = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
ACCEPT_SITEMAP = (
    "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, application/gzip;q=0.8, */*;q=0.1"
)
DEFAULT_ACCEPT = (
    "text/html, application/xhtml+xml, application/rss+xml, application/atom+xml,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)


def accept_for_kind(kind: str) -> str:
    """The Accept header for a source's listing ("rss", "atom", "sitemap", "html_index")."""
    if kind in ("rss", "atom"):
        return ACCEPT_FEED
    if kind == "sitemap":
        return ACCEPT_SITEMAP
    return ACCEPT_HTML


def media_type(content_type: str | None) -> str:
    """ "text/html" for "Text/HTML; charset=utf-8"; "" when there is none."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def unsupported_media_type(content_type: str | None) -> str | None:
    """Why a response of this Content-Type is not read, or None if it is."""
    kind = media_type(content_type)
    if not kind or kind in _HTML_TYPES | _XML_TYPES | _LENIENT_TYPES | _GZIP_TYPES:
        return None
    if kind.endswith("+xml"):  # application/atom+xml, application/rdf+xml, ...
        return None
    return f"unsupported content type {kind!r}"


class UnsupportedEncoding(ValueError):
    """A Content-Encoding that `BoundedDecoder` does not decode."""


class CorruptEncoding(ValueError):
    """The body is not valid data of its Content-Encoding."""


class BoundedDecoder:
    """Incremental, bounded decoder for one response's Content-Encoding."""

    def __init__(self, content_encoding: str | None) -> None:
        tokens = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in tokens if c in _DECODED or c in _NOT_DECODED]
        if len(codings) > 1:
            raise UnsupportedEncoding(f"unsupported Content-Encoding {content_encoding!r}")
        self.coding = codings[0] if codings else "identity"
        if self.coding in _GZIP_NAMES:
            self._inflater: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        elif self.coding == "identity":
            self._inflater = None
        else:
            raise UnsupportedEncoding(f"unsupported Content-Encoding {self.coding!r}")
        self._pending = b""
        self._started = False

    @property
    def pending(self) -> bool:
        """Input is left over from a call that hit its room."""
        return bool(self._pending)

    def decode(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of `data` (plus input kept from before), at most `room + 1` of them.

        Getting `room + 1` bytes means the body is larger than `room`: the caller stops.
        """
        if self._inflater is None:
            return data
        source = self._pending + data
        self._pending = b""
        out: list[bytes] = []
        budget = room + 1
        while source and budget > 0:
            try:
                piece = self._inflater.decompress(source, budget)
            except zlib.error as exc:
                if self.coding == "deflate" and not self._started:
                    # "deflate" is zlib-wrapped by the standard, raw in some servers.
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise CorruptEncoding(f"bad {self.coding} data ({exc})") from exc
            self._started = True
            out.append(piece)
            budget -= len(piece)
            source = self._inflater.unconsumed_tail
            if self._inflater.eof:
                source = self._next_member(self._inflater.unused_data)
        if budget <= 0:
            self._pending = source
        return b"".join(out)

    def _next_member(self, rest: bytes) -> bytes:
        # gzip allows several members back to back; anything else after the end is ignored.
        if self.coding in _GZIP_NAMES and rest.startswith(b"\x1f\x8b"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return rest
        return b""
