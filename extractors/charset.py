"""Bytes of a web page to text: never a crash, whatever the page declares or contains.

Order (first that fits wins):

1. a byte-order mark;
2. valid UTF-8: mislabelled UTF-8 (a server sending "ISO-8859-1" for UTF-8 pages) is the
   web's most common charset error, and legacy text is almost never valid UTF-8 by chance;
3. the charset of the Content-Type header, then of a <meta> tag or the XML declaration,
   if the bytes decode with it (labels as browsers read them: "iso-8859-1" is windows-1252);
4. UTF-8 with some broken sequences (valid multi-byte characters at least a quarter as
   many as the errors): decoded with U+FFFD for the broken bytes;
5. detection (charset_normalizer) on a sample, windows-1252 winning ties;
6. the declared charset, else UTF-8, with U+FFFD for what does not decode.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# WHATWG Encoding Standard: these labels mean windows-1252 in every browser.
_AS_WINDOWS_1252 = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252"})
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.IGNORECASE)
_NON_ASCII_OK = re.compile(r"[^\x00-\x7f\ufffd]")
PRESCAN_BYTES = 4096  # where a <meta charset> must be, give or take
DETECTION_SAMPLE = 64 * 1024


def decode_document(content: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, codec name used) for a page's bytes; see the module docstring."""
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return content.decode(codec, errors="replace"), codec
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = [c for c in (header_charset(content_type), markup_charset(content)) if c]
    for codec in declared:
        if codec != "utf-8":
            try:
                return content.decode(codec), codec
            except UnicodeDecodeError:
                continue
    text = content.decode("utf-8", errors="replace")
    broken = text.count("\ufffd") - content.count(b"\xef\xbf\xbd")
    valid = len(_NON_ASCII_OK.findall(text))
    # Legacy 8-bit text almost never forms valid multi-byte sequences by chance: a good
    # share of them means UTF-8 with some damage, not another charset.
    if valid and 4 * valid >= broken:
        return text, "utf-8"
    detected = _detect(content)
    if detected:
        return content.decode(detected, errors="replace"), detected
    codec = declared[0] if declared else "utf-8"
    return content.decode(codec, errors="replace"), codec


def header_charset(content_type: str | None) -> str | None:
    """The codec named by a Content-Type header's charset parameter, if Python knows it."""
    match = _HEADER_CHARSET.search(content_type or "")
    return _codec(match.group(1)) if match else None


def markup_charset(content: bytes) -> str | None:
    """The codec named by a <meta> tag or the XML declaration near the start, if known."""
    head = content[:PRESCAN_BYTES]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if not match:
        return None
    codec = _codec(match.group(1).decode("ascii", errors="replace"))
    # A page that reached us as ASCII-compatible bytes cannot be UTF-16 (WHATWG rule).
    return "utf-8" if codec in ("utf-16", "utf-16-le", "utf-16-be") else codec


def _codec(label: str) -> str | None:
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in _AS_WINDOWS_1252 else name


def _detect(content: bytes) -> str | None:
    matches = from_bytes(content[:DETECTION_SAMPLE])
    best = matches.best()
    if best is None:
        return None
    # Short Western text fits cp1250, cp1252 and cp1257 equally well: on a tie, the web's
    # most common legacy encoding (the WHATWG default for unlabelled pages) wins.
    tied = {m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)}
    return "cp1252" if "cp1252" in tied else _codec(best.encoding)
