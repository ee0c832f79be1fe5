"""Page bytes to text: the declared charset, the actual one, and never a crash."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractors.charset import decode_document, header_charset, markup_charset

TEXT = "Café owners in Zürich say the naïve tariff plan costs them €2 million, señor."


def page(body: str, meta: str = "") -> str:
    return f"<html><head>{meta}<title>t</title></head><body><p>{body}</p></body></html>"


def test_utf8_whatever_the_label() -> None:
    raw = page(TEXT).encode("utf-8")
    assert decode_document(raw, "text/html; charset=ISO-8859-1") == (page(TEXT), "utf-8")


def test_header_charset_for_legacy_bytes() -> None:
    raw = page(TEXT).encode("cp1252")
    assert decode_document(raw, "text/html; charset=windows-1252") == (page(TEXT), "cp1252")
    # iso-8859-1 means windows-1252 on the web (the euro sign lives at 0x80 there)
    assert decode_document(raw, "text/html; charset=iso-8859-1") == (page(TEXT), "cp1252")


def test_meta_charset_when_the_header_has_none() -> None:
    html = page("Привет, мир: торговая сделка", meta='<meta charset="koi8-r">')
    assert decode_document(html.encode("koi8-r"), "text/html") == (html, "koi8-r")
    http_equiv = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
    html = page("Торговая сделка подписана", meta=http_equiv)
    assert decode_document(html.encode("cp1251"), None) == (html, "cp1251")


def test_mislabelled_legacy_bytes_are_detected() -> None:
    html = page(TEXT + " " + TEXT)
    text, codec = decode_document(html.encode("cp1252"), "text/html; charset=utf-8")
    assert (text, codec) == (html, "cp1252")


def test_utf8_with_broken_bytes_keeps_the_rest() -> None:
    raw = page(TEXT).encode("utf-8").replace(b"tariff", b"tar\xffiff")
    text, codec = decode_document(raw, "text/html; charset=utf-8")
    assert codec == "utf-8"
    assert "tar\ufffdiff" in text and "Zürich" in text


def test_byte_order_marks_win() -> None:
    html = page(TEXT)
    assert decode_document(codecs.BOM_UTF8 + html.encode(), "text/html; charset=koi8-r")[0] == html
    assert decode_document(html.encode("utf-16"), None) == (html, "utf-16")


def test_labels() -> None:
    assert header_charset('text/html; charset="UTF-8"') == "utf-8"
    assert header_charset("text/html; charset=no-such-charset") is None
    assert header_charset(None) is None
    assert markup_charset(b'<?xml version="1.0" encoding="ISO-8859-1"?><rss/>') == "cp1252"
    assert markup_charset(b'<meta charset="utf-16">') == "utf-8"  # impossible in 8-bit bytes
    assert markup_charset(b"<html>") is None


@settings(max_examples=200, deadline=None)
@given(
    content=st.binary(max_size=2000),
    label=st.sampled_from([None, "text/html", "text/html; charset=utf-8", "charset=bogus"]),
)
def test_never_raises(content: bytes, label: str | None) -> None:
    text, codec = decode_document(content, label)
    assert isinstance(text, str) and codecs.lookup(codec)


@pytest.mark.parametrize("charset", ["utf-8", "cp1252", "iso-8859-15", "shift_jis"])
def test_declared_and_true_charsets_agree(charset: str) -> None:
    body = "Trade deal: 日本" if charset in ("utf-8", "shift_jis") else TEXT.replace("€", "e")
    html = page(body, meta=f'<meta charset="{charset}">')
    assert decode_document(html.encode(charset), None)[0] == html
