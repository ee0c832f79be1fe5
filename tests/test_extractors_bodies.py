"""Bounded decompression and the media types the fetcher reads."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from extractors.bodies import (
    ACCEPT_FEED,
    ACCEPT_HTML,
    ACCEPT_SITEMAP,
    BoundedDecoder,
    CorruptEncoding,
    UnsupportedEncoding,
    accept_for_kind,
    media_type,
    unsupported_media_type,
)


def decode_all(decoder: BoundedDecoder, chunks: list[bytes], limit: int) -> bytes:
    """What the fetcher does: feed chunks, stop past `limit`."""
    out = b""
    for chunk in chunks:
        out += decoder.decode(chunk, limit - len(out))
        if len(out) > limit:
            break
    return out


def test_a_bomb_in_one_chunk_is_inflated_only_up_to_the_room() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)  # ~50 KB on the wire
    limit = 100_000
    tracemalloc.start()
    try:
        piece = BoundedDecoder("gzip").decode(bomb, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(piece) == limit + 1  # one byte past the room says "too large"
    assert peak < 10 * limit  # never the 50 MB the chunk holds


def test_gzip_and_deflate_round_trip_in_small_chunks() -> None:
    text = b"Stories about tariffs and trade secrets. " * 2000
    zlib_wrapped = zlib.compress(text)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(text) + raw.flush()
    for coding, body in [
        ("gzip", gzip.compress(text)),
        ("x-gzip", gzip.compress(text)),
        ("deflate", zlib_wrapped),
        ("deflate", raw_deflate),  # what some servers send as "deflate"
        ("identity", text),
        (None, text),
        ("utf-8", text),  # a misconfigured server's "encoding": not a compression
        ("Identity, none", text),
    ]:
        chunks = [body[i : i + 100] for i in range(0, len(body), 100)]
        assert decode_all(BoundedDecoder(coding), chunks, 10_000_000) == text, coding


def test_concatenated_gzip_members() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"second")
    assert decode_all(BoundedDecoder("gzip"), [body], 1000) == b"first second"


def test_input_left_over_at_the_room_is_kept_for_later() -> None:
    text = b"0123456789" * 1000
    decoder = BoundedDecoder("gzip")
    first = decoder.decode(gzip.compress(text), 99)
    assert len(first) == 100 and decoder.pending
    rest = b""
    while decoder.pending:
        rest += decoder.decode(b"", 1000)
    assert first + rest == text


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br", "gzip, gzip"])
def test_encodings_not_decoded_are_refused(coding: str) -> None:
    with pytest.raises(UnsupportedEncoding, match="unsupported Content-Encoding"):
        BoundedDecoder(coding)


def test_corrupt_gzip_is_an_error() -> None:
    with pytest.raises(CorruptEncoding, match="bad gzip data"):
        BoundedDecoder("gzip").decode(b"\x1f\x8b\x08\x00garbage that is not deflate", 1000)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/html",
        "Text/HTML; charset=ISO-8859-1",
        "application/xhtml+xml",
        "application/rss+xml; charset=utf-8",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "text/plain",  # some feeds
        "application/x-gzip",  # sitemap.xml.gz
        "application/gzip",
    ],
)
def test_media_types_read(content_type: str | None) -> None:
    assert unsupported_media_type(content_type) is None


@pytest.mark.parametrize(
    "content_type",
    ["image/png", "application/pdf", "application/json", "video/mp4", "application/octet-stream"],
)
def test_media_types_refused(content_type: str) -> None:
    assert unsupported_media_type(content_type) == f"unsupported content type {content_type!r}"


def test_accept_headers_by_kind() -> None:
    assert media_type("Text/HTML; charset=utf-8") == "text/html"
    assert accept_for_kind("rss") == accept_for_kind("atom") == ACCEPT_FEED
    assert accept_for_kind("sitemap") == ACCEPT_SITEMAP
    assert accept_for_kind("html_index") == ACCEPT_HTML
