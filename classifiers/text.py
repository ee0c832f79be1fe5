"""Sentence splitting and word tokenising shared by the watch scorer.

Regex-based on purpose: news text is well punctuated, and a model-based splitter would cost
milliseconds per article and a dependency for little gain on this job.
"""

from __future__ import annotations

import re

# Words that end with a period without ending the sentence (lower case, no trailing dot).
_ABBREVIATIONS = frozenset(
    " ".join(
        (
            "mr mrs ms dr prof sr jr st gen col lt sgt capt cmdr adm gov sen rep rev hon pres",
            "inc corp co ltd llc plc bros dept univ assn intl govt no nos vs etc fig al approx",
            "asst atty assoc dep det insp maj brig cpl pvt ret jan feb mar apr jun jul aug sep",
            "sept oct nov dec mt ft ave blvd calif fla mass mich penn wash ariz colo conn tenn",
        )
    ).split()
)
# "U.S.", "e.g.", "a.m." (the final dot is not part of the match).
_INITIALISM = re.compile(r"^(?:[^\W\d_]\.)+[^\W\d_]$")
# A run of sentence-final punctuation, closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_OPENERS = "\"'“‘([«"
_LINE_END_PUNCT = '.!?:;"”’)…'
_WS = re.compile(r"[ \t\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")

# A word: letters/digits, optionally joined by apostrophes ("don't"); a possessive 's is left
# out ("China's" -> china). Hyphens and dots split words: "state-sponsored" -> state,
# sponsored; "U.S." -> u, s. Applied to folded text (see :func:`fold`).
TOKEN_RE = re.compile(r"([^\W_]+(?:'(?!s\b)[^\W_]+)*)(?:'s\b)?")


def fold(text: str) -> str:
    """The form text is matched in: casefolded, curly apostrophes straightened."""
    return text.casefold().replace("’", "'")


def words(text: str) -> list[str]:
    """The words of ``text`` as matched: casefolded, possessive 's dropped."""
    return TOKEN_RE.findall(fold(text))


# TOKEN_RE for unfolded text, so that spans index the original (casefolding can change lengths).
_SPAN_RE = re.compile(r"([^\W_]+(?:['’](?![sS]\b)[^\W_]+)*)(?:['’][sS]\b)?")


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans in ``text`` of the words :func:`words` returns, in the same order."""
    return [m.span(1) for m in _SPAN_RE.finditer(text)]


def _blocks(text: str) -> list[str]:
    """Lines are hard boundaries (headline, byline, paragraph), except a hard-wrapped line:
    one that ends without punctuation and is continued by a line starting in lower case."""
    blocks: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _WS.sub(" ", raw).strip()
        if not line:
            if blocks and blocks[-1]:
                blocks.append("")  # a blank line ends any wrap
            continue
        prev = blocks[-1] if blocks else ""
        if prev and prev[-1] not in _LINE_END_PUNCT and line[0].islower():
            blocks[-1] = f"{prev} {line}"
        else:
            blocks.append(line)
    return [b for b in blocks if b]


def _ends_sentence(block: str, punct_start: int, punct: str, next_char: str) -> bool:
    if not (next_char.isupper() or next_char.isdigit() or next_char in _OPENERS):
        return False  # "e.g. the", "3.5 percent", lower-case continuation
    if punct.rstrip("\"'”’)]") != ".":
        return True  # "!", "?", "...", "?!"
    # Blocks hold single spaces only, so the word before the punctuation starts after one.
    word = block[block.rfind(" ", 0, punct_start) + 1 : punct_start].lstrip(_OPENERS)
    if not word:
        return True
    low = word.casefold()
    if low in _ABBREVIATIONS or _INITIALISM.match(low):
        return False  # "Dr. Smith", "Inc. said", "U.S. officials"
    # A lone capital is an initial ("John P. Carlin").
    return not (len(word) == 1 and word.isupper())


def split_sentences(text: str) -> list[str]:
    """Split text into sentences: line breaks, then . ! ? followed by a capital or digit,
    skipping common abbreviations, initials and dotted initialisms like "U.S."."""
    out: list[str] = []
    for block in _blocks(text):
        start = 0
        for m in _BOUNDARY.finditer(block):
            end = m.end()
            if end >= len(block):
                break
            punct = m.group().rstrip()
            if _ends_sentence(block, m.start(), punct, block[end]):
                out.append(block[start:end].strip())
                start = end
        tail = block[start:].strip()
        if tail:
            out.append(tail)
    return out
