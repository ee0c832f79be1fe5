"""What an article says happened, as numbers: the features story assignment compares.

An article becomes term counts over its whole text, term counts over its title and lead, and
the set of its entity-like terms (capitalised words inside sentences, acronyms, numbers).
Vectors weight each term by log term frequency times an inverse document frequency taken from
the store's own running counts (:class:`TermStats`), and entity-like terms twice: two reports
of one event share their names (people, companies, units, places, figures), while a topic's
vocabulary ("hackers", "charged", "tariffs") is shared by every story on that topic.

Pure functions over plain data: no database, no network.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from classifiers.fingerprint import fingerprint_body

# The title and this many words of the body are an article's "lead": what it is about.
LEAD_WORDS = 60
# The whole-text vector keeps the most frequent terms only, so a stored article's features
# (and the document-frequency rows it updates) stay small whatever its length.
MAX_TEXT_TERMS = 120
# Entity-like terms weigh this much more than other words in every vector.
ENTITY_BOOST = 2.0
# ... unless it is in more than this share of the stored documents: a name that common (the
# home country, the beat's big company, a storyline's own protagonist once it has many
# articles) no longer tells one event or storyline from another.
ENTITY_MAX_SHARE = 0.3
# Smoothing of the inverse document frequency: while the store holds few articles, a term
# seen in one of them is not yet taken as common.
IDF_PRIOR_DOCUMENTS = 20
# How many of an article's terms go into the candidate indexes (highest weight first).
INDEX_TERMS = 20
LINE_INDEX_TERMS = 12

# Function words, calendar words and page furniture: never features.
_STOPWORD_TEXT = """
    a an the and or but if of to in on at by for with from as is are was were be been being
    has have had do does did not no nor so than that this these those it its he she they them
    his her their we us our you your i me my who whom whose which what when where why how all
    any both each few more most other some such only own same too very can will would should
    could may might must shall just also into over under after before about against between
    through during out up down off again further then once here there said says say told tell
    according new one two three four five six seven eight nine ten first last year week month
    day today yesterday tomorrow monday tuesday wednesday thursday friday saturday sunday
    january february march april june july august september october november december jan feb
    mar apr jun jul aug sep sept oct nov dec mr mrs ms dr per cent percent while because since
    until still even though although however many much well back now get got make made like
    including include among around within without across upon via don isn wasn aren weren hasn
    haven hadn doesn didn won wouldn shouldn couldn cannot read share print email photo image
    file advertisement subscribe sign log click follow news update updated published posted
    reporting reported report reports"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_WORD = re.compile(r"[^\W\d_][\w]*(?:['’\-][^\W_]+)*|\d[\d,.]*\d|\d", re.UNICODE)
# A word and the sentence stop right after it, if any (the lookahead consumes nothing, so the
# words found are `_WORD`'s).
_WORD_AND_STOP = re.compile(rf"({_WORD.pattern})(?=([.!?]?))", re.UNICODE)
# Some pages lead with a date line ("date 2019-08-27 ..."): metadata, not the story.
_DATE_PREFIX = re.compile(r"^\s*date \d{4}-\d{2}(?:-\d{2})?\s*", re.IGNORECASE)
MIN_TITLE_WORDS = 4
# A dateline opens a report with where it was filed (and by which agency): "WASHINGTON (AP) —",
# "SAN JOSE, Calif. (AP/KRON) –", "PORT ANSEL, Aldermark —", "WASHINGTON, May 15 (Reuters) -".
# It names the newsroom's city, not the event's actors: two unrelated stories filed from one
# city would otherwise share their most prominent names.
_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z.'’\-]+(?:[ /][A-Z][A-Z.'’\-]+)*"  # PORT ANSEL, BRUSSELS/FRANKFURT
    r"(?:,\s*[A-Z][\w.]*(?:\s[A-Z][\w.]*)*)?"  # , Aldermark / , Calif. / , D.C.
    r"(?:,?\s*[A-Z][a-z]{2,8}\.?\s\d{1,2})?"  # , May 15
    r"\s*(?:\([^)]{1,40}\))?\s*(?:—|–|--?)\s+"  # (Reuters) —
)


# Terms repeat across articles: caching the word -> term and word -> marked mappings halves
# extract_features' CPU (it runs for every fetched article). Bounded: a few MB per process.
_WORD_CACHE = 1 << 12


@functools.lru_cache(maxsize=_WORD_CACHE)
def normalise_term(word: str) -> str:
    """Lower case, possessive and plural stripped: "Huawei's" and "Huawei", "hackers" and
    "hacker" are one term. Crude on purpose: it only has to be consistent."""
    term = word.casefold().replace("’", "'")
    if term.endswith("'s"):
        term = term[:-2]
    if len(term) > 4 and term.endswith("ies"):
        return term[:-3] + "y"
    if len(term) > 3 and term.endswith("s") and not term.endswith(("ss", "us", "is")):
        return term[:-1]
    return term


def _is_entity_like(word: str, sentence_start: bool) -> bool:
    return _marked(word) or (word[0].isupper() and not sentence_start)


@functools.lru_cache(maxsize=_WORD_CACHE)
def _marked(word: str) -> bool:
    """A number, an acronym or a CamelCase name: APT10, BIS, T-Mobile, 61398."""
    return any(c.isdigit() for c in word) or sum(c.isupper() for c in word) >= 2


@dataclass(frozen=True, slots=True)
class EventFeatures:
    """Term counts of the whole text and of title + lead, and the entity-like terms."""

    text_terms: Mapping[str, int]
    lead_terms: Mapping[str, int]
    entities: frozenset[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "t": dict(self.text_terms),
            "l": dict(self.lead_terms),
            "e": sorted(self.entities),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventFeatures:
        return cls(
            text_terms={str(k): int(v) for k, v in data.get("t", {}).items()},
            lead_terms={str(k): int(v) for k, v in data.get("l", {}).items()},
            entities=frozenset(str(e) for e in data.get("e", [])),
        )

    def vocabulary(self) -> set[str]:
        """Every term these features count: what a document frequency counts once."""
        return set(self.text_terms) | set(self.lead_terms)


def body_lines(text: str) -> list[str]:
    """The text's story lines: a leading date line dropped, then wrapper lines and lines too
    short to be prose (menus, captions, "Advertisement") dropped as for fingerprints, and
    datelines."""
    text = _DATE_PREFIX.sub("", text.lstrip(), count=1)
    # A dateline opens the report proper, which may come after a headline or a caption.
    lines = (
        _DATELINE.sub("", line.strip(), count=1) for line in fingerprint_body(text).splitlines()
    )
    return [line for line in lines if line]


def title_from_text(text: str) -> str:
    """A title for a text that has none: its first story line of a few words."""
    for line in body_lines(text):
        if len(line.split()) >= MIN_TITLE_WORDS:
            return line
    return ""


def extract_features(title: str, text: str) -> EventFeatures:
    """Count an article's terms: the whole text, the title + first LEAD_WORDS words, entities.

    A title is in title case, so its capitals say nothing: entity-like terms are taken from
    the body only (a title's names are repeated there).
    """
    text_terms: Counter[str] = Counter()
    lead_terms: Counter[str] = Counter()
    entities: set[str] = set()
    for word, _ in _words(title):
        title_term = _kept_term(word)
        if title_term is not None:
            lead_terms[title_term] += 1
            text_terms[title_term] += 1
    seen = 0
    for line in body_lines(text):
        sentence_start = True
        # `_words`, inlined and matched in C: this loop runs for every word of every article.
        for word, stop in _WORD_AND_STOP.findall(line):
            seen += 1
            term = _kept_term(word)
            if term is not None:
                text_terms[term] += 1
                if seen <= LEAD_WORDS:
                    lead_terms[term] += 1
                if term not in entities and _is_entity_like(word, sentence_start):
                    entities.add(term)
            sentence_start = stop != ""
    top = dict(sorted(text_terms.items(), key=lambda kv: -kv[1])[:MAX_TEXT_TERMS])
    return EventFeatures(
        text_terms=top,
        lead_terms=dict(lead_terms),
        entities=frozenset(e for e in entities if e in top or e in lead_terms),
    )


MAX_TERM_CHARS = 40  # longer "words" are URLs, hashes or glued text: no use as features


@functools.lru_cache(maxsize=_WORD_CACHE)
def _kept_term(word: str) -> str | None:
    """The word's term, or None if it is not kept."""
    term = normalise_term(word)
    return term if _keep(term) else None


def _keep(term: str) -> bool:
    return 2 <= len(term) <= MAX_TERM_CHARS and term not in STOPWORDS


def _words(line: str) -> Iterable[tuple[str, bool]]:
    """Words with whether each starts a sentence (so its capital says nothing)."""
    start = True
    for match in _WORD.finditer(line):
        word = match.group()
        yield word, start
        start = line[match.end() : match.end() + 1] in (".", "!", "?")


class TermStats(Protocol):
    """Document frequencies over the stored articles."""

    @property
    def documents(self) -> int: ...

    def df(self, term: str) -> int: ...


@dataclass(frozen=True, slots=True)
class FrequencyTable:
    """A TermStats over a plain mapping (what storage loads for the terms at hand)."""

    documents: int
    frequencies: Mapping[str, int]

    def df(self, term: str) -> int:
        return self.frequencies.get(term, 0)


def idf(stats: TermStats, term: str) -> float:
    return math.log((stats.documents + IDF_PRIOR_DOCUMENTS) / (stats.df(term) + 1))


Vector = dict[str, float]


# 1 + log(tf) for the small counts most terms have (the same floats, computed once).
_LOG_TF_SIZE = 64
_LOG_TF = [0.0] + [1.0 + math.log(n) for n in range(1, _LOG_TF_SIZE)]


def weighted_vector(
    counts: Mapping[str, int], entities: frozenset[str], stats: TermStats
) -> Vector:
    """Unit-length vector: (1 + log tf) * idf, entity-like terms boosted unless they are
    common (in more than ENTITY_MAX_SHARE of documents). `idf` is inlined here: the pipeline
    weighs thousands of terms per article."""
    total = stats.documents + IDF_PRIOR_DOCUMENTS
    boost_cap = ENTITY_MAX_SHARE * total
    log, log_tf = math.log, _LOG_TF
    # A FrequencyTable's mapping read directly: a method call per term cost a fifth of this.
    get = (
        stats.frequencies.get
        if isinstance(stats, FrequencyTable)
        else lambda term, _: stats.df(term)
    )
    vector: Vector = {}
    for term, n in counts.items():
        if n <= 0:
            continue
        frequency = get(term, 0)
        weight = (log_tf[n] if n < _LOG_TF_SIZE else 1.0 + log(n)) * log(total / (frequency + 1))
        if term in entities and not frequency > boost_cap:
            weight *= ENTITY_BOOST
        vector[term] = weight
    return normalised(vector)


def normalised(vector: Mapping[str, float]) -> Vector:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm > 0 else {}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Dot product of two unit vectors (0 when either is empty)."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def text_vector(features: EventFeatures, stats: TermStats) -> Vector:
    """The whole-text vector two reports of one event are compared by."""
    return weighted_vector(features.text_terms, features.entities, stats)


def lead_vector(features: EventFeatures, stats: TermStats) -> Vector:
    """The title + lead vector a story is placed in a storyline by."""
    return weighted_vector(features.lead_terms, features.entities, stats)


def top_terms(vector: Mapping[str, float], n: int) -> list[str]:
    """The n heaviest terms (ties by name, so the choice is stable)."""
    return [t for t, _ in sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def add_to_centroid(
    centroid: Mapping[str, float], vector: Mapping[str, float], keep: int
) -> dict[str, float]:
    """Sum of unit vectors, trimmed to its `keep` heaviest terms (a bounded row)."""
    total = dict(centroid)
    for term, weight in vector.items():
        total[term] = total.get(term, 0.0) + weight
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:keep])
