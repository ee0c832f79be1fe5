"""Fingerprints for duplicate detection: an exact hash of normalised text, and a 64-bit SimHash.

``text_hash`` catches the same text re-fetched or re-published with different whitespace,
case or typography. ``simhash`` catches syndicated copies: the same wire story with another
lead paragraph, byline or boilerplate line. Two fingerprints of the same story differ in a few
bits; unrelated texts differ in about 32 of 64.

Hashes are stable across processes and machines (blake2b, never Python's salted ``hash()``),
since they are stored and compared with fingerprints computed by other runs.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

SHINGLE_WORDS = 3
# Chosen by measurement on the dev-set texts, joined two or three at a time into 540- and
# 800-word articles (tests/test_classifiers_fingerprint.py repeats the core of it):
# - two added promo/boilerplate lines that the wrapper filter does not catch: median 4 bits,
#   max 12 / 8; bylines, credits and copyright lines are filtered out, so they cost 0 bits;
# - lead paragraph replaced: median 8 / 6 bits, 89% / 94% within 12 (78% / 92% within 10);
# - different stories, same topic or not: never under 17 bits in ~8,000 pairs, median 32.
# Unrelated texts differ like Binomial(64, 1/2): P(d <= 12) = 2.3e-7 per comparison, 1e-8 at
# 10; at 3 almost no rewritten copy would be caught (a changed paragraph alone moves 5-15 bits).
DEFAULT_MAX_DISTANCE = 12

_MASK64 = (1 << 64) - 1
_NON_WORD = re.compile(r"[\W_]+")  # punctuation, symbols, whitespace: anything but letters/digits


def normalise_text(text: str) -> str:
    """NFKC, casefold, every run of non-letters/digits to one space, trimmed.

    So copies differing only in case, curly vs straight quotes, dashes, bullets, non-breaking
    spaces or line wrapping normalise to the same string.
    """
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_hash(text: str) -> str:
    """sha256 hex digest of :func:`normalise_text`: equal for trivially different copies."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def _feature_digest(feature: str) -> bytes:
    return hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()


# Lines that wrap a syndicated story rather than tell it: bylines, credits, copyright and
# timestamp lines (short ones only: a paragraph may begin "Published figures show ..."), and
# short clutter ("Advertisement", "Share this article", photo captions).
_WRAPPER_LINE = re.compile(
    r"^\W*(?:reporting by|additional reporting|writing by|editing by|edited by|copyright|©"
    r"|\(c\) ?\d{4}|all rights reserved|updated|published|posted|file photo|photo:|image:)",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^\W*by\s", re.IGNORECASE)
MIN_LINE_WORDS = 6
MAX_WRAPPER_WORDS = 25


def fingerprint_body(text: str) -> str:
    """The lines a near-duplicate check should compare: wrapper lines and lines under
    MIN_LINE_WORDS words dropped (all lines kept if that would leave nothing)."""
    kept = []
    for line in text.splitlines():
        n = len(line.split())
        if n < MIN_LINE_WORDS or (n <= MAX_WRAPPER_WORDS and _WRAPPER_LINE.match(line)):
            continue
        if _BYLINE.match(line) and n <= 12 and not line.rstrip().endswith((".", "!", "?")):
            continue
        kept.append(line)
    return "\n".join(kept) if kept else text


def _shingles(text: str) -> list[str]:
    words = normalise_text(fingerprint_body(text)).split()
    if len(words) < SHINGLE_WORDS:
        return words
    return [" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)]


# For each bit, SimHash needs how many features set it. Rather than 64 Python steps per
# feature, the digests are concatenated, the k-th byte of every digest is sliced out at once,
# and a bytes.translate table that keeps one bit turns counting into bytes.count: 64 C-level
# passes per text, whatever its length.
_BIT_TABLES = tuple(bytes(v >> b & 1 for v in range(256)) for b in range(8))


def simhash(text: str) -> int:
    """64-bit SimHash (unsigned) over word 3-shingles of the normalised :func:`fingerprint_body`.

    Every shingle occurrence votes on each bit of the shingle's blake2b hash (+1 if set, -1 if
    not); the fingerprint keeps the bits with a positive total. A text shorter than three words
    uses its words as features; an empty text hashes to 0.
    """
    words = normalise_text(fingerprint_body(text)).encode("utf-8").split()
    if len(words) < SHINGLE_WORDS:
        features = words  # what `_shingles` gives, encoded
    else:
        # `_shingles`, encoded, built in C: the normalised text is words and single spaces.
        features = list(map(b" ".join, zip(words, words[1:], words[2:], strict=False)))
    if not features:
        return 0
    digests = b"".join([hashlib.blake2b(f, digest_size=8).digest() for f in features])
    n = len(features)
    fingerprint = 0
    for j in range(8):  # byte j of a big-endian digest holds bits 8*(7-j) .. 8*(7-j)+7
        column = digests[j::8]
        for b in range(8):
            if 2 * column.translate(_BIT_TABLES[b]).count(1) > n:
                fingerprint |= 1 << (8 * (7 - j) + b)
    return fingerprint


def simhash_reference(text: str) -> int:
    """The textbook per-bit loop: slow, kept as the definition the fast version is tested on."""
    votes = [0] * 64
    for shingle in _shingles(text):
        h = int.from_bytes(_feature_digest(shingle), "big")
        for bit in range(64):
            votes[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if votes[bit] > 0)


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit fingerprints (signed or unsigned)."""
    return ((a ^ b) & _MASK64).bit_count()


def is_near_duplicate(a: int, b: int, max_distance: int = DEFAULT_MAX_DISTANCE) -> bool:
    """Whether two SimHash fingerprints are close enough to be copies of one story."""
    return hamming(a, b) <= max_distance


def to_signed64(value: int) -> int:
    """Unsigned 64-bit fingerprint -> the signed value a BIGINT column holds."""
    if not 0 <= value <= _MASK64:
        raise ValueError(f"not an unsigned 64-bit value: {value}")
    return value - (1 << 64) if value >> 63 else value


def from_signed64(value: int) -> int:
    """Signed BIGINT value -> the unsigned 64-bit fingerprint."""
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"not a signed 64-bit value: {value}")
    return value & _MASK64
