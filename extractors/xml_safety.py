"""Refuse XML that declares entities, before any parser sees it.

Entity declarations are what XML attacks are made of: external entities (XXE: a feed
that makes the parser read `file:///etc/passwd` or an internal URL) and nested internal
ones ("billion laughs": a kilobyte that expands to gigabytes). The parsers are already
configured against both (lxml: no entity resolution, no network, no DTD loading, its
amplification limit; feedparser keeps only plain entities and expat 2.4+ limits
amplification), but a feed or sitemap has no legitimate use for them, so refusing them
outright is simplest and leaves nothing to a parser's defaults.

Only the prolog is examined, not the document: an article about XXE may well quote
`<!ENTITY` inside a feed's CDATA.
"""

from __future__ import annotations

import re

PROLOG_LIMIT = 64 * 1024  # a real prolog (declaration, comments, DOCTYPE) is far smaller
_UTF16_32_STARTS = (b"\xff\xfe", b"\xfe\xff", b"\x00<", b"<\x00", b"\x00\x00\xfe\xff")
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)


class UnsafeXML(ValueError):
    """The document declares entities (or its prolog cannot be read to tell)."""


def refuse_entity_declarations(content: bytes) -> None:
    """Raise UnsafeXML if the document's prolog has a DOCTYPE declaring entities."""
    head = _prolog_text(content[:PROLOG_LIMIT])
    pos = 0
    while True:
        pos = _skip_space(head, pos)
        if head.startswith("<?", pos):
            pos = _after(head, "?>", pos)
        elif head.startswith("<!--", pos):
            pos = _after(head, "-->", pos)
        elif _DOCTYPE.match(head, pos):
            _check_doctype(head, pos)
            return
        else:
            return  # the root element (or not XML at all: the parser will say so)


def _prolog_text(head: bytes) -> str:
    if head.startswith(_UTF16_32_STARTS):
        # Entity markup spelt in UTF-16/32 is invisible to a byte search: decode first.
        for codec in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
            try:
                return head.decode(codec)
            except UnicodeDecodeError:
                continue
    # Every other encoding a feed uses spells "<!ENTITY" in ASCII bytes.
    return head.decode("latin-1")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in "\ufeff \t\r\n":
        pos += 1
    return pos


def _after(text: str, end: str, pos: int) -> int:
    found = text.find(end, pos)
    if found < 0:
        raise _too_long()
    return found + len(end)


def _check_doctype(text: str, pos: int) -> None:
    """Scan the DOCTYPE's internal subset, if any, declaration by declaration.

    Quoted strings are skipped as units, so a "]" or ">" inside one cannot end the scan
    early and hide a later declaration.
    """
    pos += len("<!DOCTYPE")
    while True:  # up to "[" (internal subset) or ">" (none), past quoted ids
        if pos >= len(text):
            raise _too_long()
        char = text[pos]
        if char in "'\"":
            pos = _after(text, char, pos + 1)
        elif char == ">":
            return  # no internal subset: an external DTD is never loaded
        elif char == "[":
            break
        else:
            pos += 1
    pos += 1
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            raise _too_long()
        if text.startswith("]", pos):
            return
        if text.startswith("<!--", pos):
            pos = _after(text, "-->", pos)
        elif text.startswith("<?", pos):
            pos = _after(text, "?>", pos)
        elif text.startswith("<!", pos):
            if text[pos : pos + 8].upper() == "<!ENTITY":
                raise UnsafeXML(
                    "refused: the document declares XML entities (XXE / entity expansion)"
                )
            pos = _end_of_declaration(text, pos)
        elif text[pos] == "%":
            pos = _after(text, ";", pos)  # parameter-entity reference: nothing declared it
        else:
            raise UnsafeXML("refused: malformed DOCTYPE internal subset")


def _end_of_declaration(text: str, pos: int) -> int:
    while pos < len(text):
        char = text[pos]
        if char in "'\"":
            pos = _after(text, char, pos + 1)
        elif char == ">":
            return pos + 1
        else:
            pos += 1
    raise _too_long()


def _too_long() -> UnsafeXML:
    return UnsafeXML(f"refused: XML prolog longer than {PROLOG_LIMIT} bytes or unterminated")
