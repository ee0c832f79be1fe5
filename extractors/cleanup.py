"""Page-level fixes applied to the parsed tree before trafilatura picks the main text.

Each fix addresses a layout pattern, never a site: hidden copies of the article (schema.org
microdata blocks styled `display:none`), an article body cut into several blocks by ad
rows, and reader comments that follow a short post. They work on an lxml tree in place and
are cheap (a handful of precompiled XPath queries per page).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

# Inline styles and attributes that keep an element off the rendered page.
_STYLED_OR_HIDDEN = etree.XPath("//*[@hidden or @style]")
_HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_NON_CONTENT = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "body"})
_MIN_HIDDEN_COPY_CHARS = 200  # smaller hidden widgets are left to trafilatura's own cleaning


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def drop_hidden_copies(tree: Any) -> int:
    """Remove hidden blocks that repeat text shown elsewhere on the page, or carry microdata.

    Sites add an invisible copy of the article for search engines (often a schema.org
    `itemscope` block); extracted as well, the story comes out two or three times. A hidden
    block whose text is not on the visible page is kept: it may be a collapsed "read more"
    part of the story itself. Returns how many blocks were removed.
    """
    hidden = [
        el
        for el in _STYLED_OR_HIDDEN(tree)
        if isinstance(el.tag, str)
        and el.tag not in _NON_CONTENT
        and (el.get("hidden") is not None or _HIDING_STYLE.search(el.get("style") or ""))
    ]
    if not hidden:
        return 0
    # Outermost hidden blocks only: a removed ancestor takes its hidden descendants along.
    hidden_set = set(hidden)
    outer = [el for el in hidden if not any(a in hidden_set for a in el.iterancestors())]
    texts = [(el, _text(el)) for el in outer]
    texts = [(el, text) for el, text in texts if len(text) >= _MIN_HIDDEN_COPY_CHARS]
    if not texts:
        return 0
    visible = _text_without(tree, [el for el, _ in texts])
    removed = 0
    for element, text in texts:
        microdata = (
            element.get("itemscope") is not None or element.find(".//*[@itemprop]") is not None
        )
        probe = text[len(text) // 3 : len(text) // 3 + 80]
        if microdata or probe in visible:
            _remove(element)
            removed += 1
    return removed


def _text_without(tree: Any, elements: list[Any]) -> str:
    """The page's text with `elements` left out (they are put back where they were)."""
    placed = []
    for element in elements:
        parent = element.getparent()
        if parent is not None:
            placed.append((parent, parent.index(element), element))
    # Detach from the last to the first so the recorded positions stay valid.
    for parent, _index, element in reversed(placed):
        tail, element.tail = element.tail, None
        parent.remove(element)
        element.tail = tail
    try:
        return _text(tree)
    finally:
        for parent, index, element in placed:
            parent.insert(index, element)


def _remove(element: Any) -> None:
    """Remove `element` but keep its tail text in the document."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


# Class/id tokens that mark an article's body container on most publishing systems.
_BODY_MARK = re.compile(
    r"(?:^|[\s_-])(?:article|story|entry|post)(?:[-_]{0,2})(?:body|content|text)(?:$|[\s_-])"
    r"|articleBody|storyBody|body__container|body-text|rich-text",
    re.IGNORECASE,
)
_BODY_CANDIDATES = etree.XPath(
    "//*[self::div or self::section or self::article][@itemprop='articleBody' or @class]"
)
_MAX_SPLIT_DISTANCE = 4  # levels up to the common ancestor of two parts of one body


def merge_split_bodies(tree: Any) -> int:
    """Join an article body that the page cut into sibling blocks (ads between the parts).

    Parts are recognised as blocks with the same tag and the same body-marking class (or
    `itemprop="articleBody"`), none inside another, each with paragraph text, close together
    in the tree. Their content is moved, in page order, into the first part, so the body
    picked for extraction is whole; what stood between them (the ad rows) stays outside.
    Returns how many parts were merged into another.
    """
    groups: dict[tuple[str, str], list[Any]] = {}
    for element in _BODY_CANDIDATES(tree):
        mark = element.get("itemprop") if element.get("itemprop") == "articleBody" else None
        classes = element.get("class") or ""
        if mark is None and not _BODY_MARK.search(classes):
            continue
        groups.setdefault((element.tag, mark or " ".join(classes.split())), []).append(element)
    merged = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        member_set = set(members)
        parts = [
            el
            for el in members
            if not any(a in member_set for a in el.iterancestors()) and _has_paragraphs(el)
        ]
        if len(parts) < 2:
            continue
        first = parts[0]
        for part in parts[1:]:
            if not _close(first, part):
                continue
            for child in list(part):
                first.append(child)
            if part.text and part.text.strip():
                wrapper = etree.SubElement(first, "p")
                wrapper.text = part.text
            _remove(part)
            merged += 1
    return merged


def _has_paragraphs(element: Any) -> bool:
    return any(len(_text(p)) >= 80 for p in element.iter("p"))


def _close(a: Any, b: Any) -> bool:
    # Keyed by the elements themselves: lxml keeps one proxy per node while it is referenced.
    ancestors_a = {x: depth for depth, x in enumerate(a.iterancestors(), start=1)}
    for depth_b, ancestor in enumerate(b.iterancestors(), start=1):
        depth_a = ancestors_a.get(ancestor)
        if depth_a is not None:
            return max(depth_a, depth_b) <= _MAX_SPLIT_DISTANCE
    return False


_HEADLINE_XPATH = etree.XPath(
    "//meta[@property='og:title' or @name='twitter:title' or @property='twitter:title']/@content"
    " | //title//text() | (//h1)[position() <= 3]"
)
_TITLE_SEPARATORS = re.compile(r"\s+[|–—·:-]\s+|\s*\|\s*")
_NOT_WORD = re.compile(r"[\W_]+")


def _key(text: str) -> str:
    return _NOT_WORD.sub(" ", text).strip().casefold()


def headline_keys(tree: Any) -> set[str]:
    """Normalised forms of the page's headline: <title> (and its parts), og:title, <h1>s."""
    keys: set[str] = set()
    for value in _HEADLINE_XPATH(tree):
        text = value if isinstance(value, str) else _text(value)
        for variant in (text, *_TITLE_SEPARATORS.split(text)):
            key = _key(variant)
            if len(key) >= 12:
                keys.add(key)
    return keys


def drop_leading_headline(lines: list[str], headlines: set[str]) -> list[str]:
    """`lines` without a leading copy of the page's headline.

    The headline is metadata (`Article.title`); repeated as the body's first line it would
    count twice wherever the text is scored or fingerprinted.
    """
    if lines and _key(lines[0]) in headlines:
        return lines[1:]
    return lines


# A line that opens the reader-comments part of a page: "Comments", "12 comments",
# "Leave a reply", "Join the discussion", in the languages the sources use.
_COMMENTS_HEADING = re.compile(
    r"^(?:\d+\s+)?(?:comments?|reader comments|comentários?|comentarios?|kommentare?|"
    r"commentaires?|commenti|reacties)(?:\s*\(\d+\))?\s*:?$"
    r"|^\d+\s+(?:responses?|replies)$"
    r"|^(?:leave|post|add|write|show|view|load|read)\s+(?:a|your|all|the)?\s*"
    r"(?:comments?|reply|replies|response)\b.{0,40}$"
    r"|^(?:join|start) the (?:discussion|conversation)\b.{0,40}$"
    r"|^(?:tell us|let us know) what you think\W*$",
    re.IGNORECASE,
)


def cut_comment_tail(lines: list[str]) -> list[str]:
    """`lines` up to a comments heading in their second half, which starts the thread.

    With comments switched off trafilatura drops comment containers it recognises, but a
    heading (and, under a short post, the thread after it) can remain. A heading in the
    first half is left alone: that is a story about comments, not a thread under one.
    """
    for index in range(len(lines) // 2, len(lines)):
        if len(lines[index]) <= 60 and _COMMENTS_HEADING.match(lines[index]):
            return lines[:index]
    return lines


_PAGE_DUMP_MIN_LINES = 100
_PAGE_DUMP_SHORT_SHARE = 2 / 3


def looks_like_page_dump(lines: list[str]) -> bool:
    """True for text made of many menu-like lines (three words or fewer), not an article.

    Trafilatura's balanced mode retries a short result in recall mode; under a short post
    that retry can return the whole page, navigation and archive lists included.
    """
    if len(lines) < _PAGE_DUMP_MIN_LINES:
        return False
    short = sum(1 for line in lines if len(line.split()) <= 3)
    return short >= _PAGE_DUMP_SHORT_SHARE * len(lines)


_HEADINGS = etree.XPath("//h2|//h3|//h4|//h5|//h6")
_MIN_POST_CHARS = 80  # a paragraph this long before the heading: there is a post above it


def drop_comment_threads(tree: Any) -> int:
    """Remove a comments heading and what follows it in its container (the thread).

    Under a short post trafilatura's recovery of stray paragraphs sweeps the comments into
    the text (interleaved with the post); trafilatura recognises comment containers by
    their class names, which many themes do not use. The heading ("5 Comments", "Leave a
    reply", ...) marks the thread whatever the markup. Only a heading below some article
    text counts, and only h2-h6: a "3 comments" link in a byline is left alone. Returns
    how many threads were removed.
    """
    removed = 0
    for heading in _HEADINGS(tree):
        if heading.getparent() is None or heading.find(".//a") is not None:
            continue
        label = _text(heading)
        if len(label) > 60 or not _COMMENTS_HEADING.match(label):
            continue
        if not _post_above(heading):
            continue
        for sibling in list(heading.itersiblings()):
            _remove(sibling)
        _remove(heading)
        removed += 1
    return removed


def _post_above(heading: Any) -> bool:
    """True when a paragraph of some length comes before `heading` on the page."""
    for node in (heading, *heading.iterancestors()):
        for sibling in node.itersiblings(preceding=True):
            if isinstance(sibling.tag, str) and any(
                len(_text(p)) >= _MIN_POST_CHARS for p in sibling.iter("p")
            ):
                return True
    return False
