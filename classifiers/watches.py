"""Watches: user-defined topics (from TOML), compiled once, scored against articles with evidence.

A watch is a weighted bag of phrases judged sentence by sentence. The score of an article is the
sum of its terms' weights, where

* a term in the title counts ``title_weight`` times;
* repeats of one term add geometrically less (``repeat_decay``), so one word said ten times
  cannot fire a watch on its own;
* a term preceded closely by a negation ("no evidence ... source code") counts
  ``negation_factor`` times;
* a term in a fragment - a short body line without final punctuation after the prose has
  begun: another story's headline under "Related", a caption - counts ``fragment_weight``
  times, and so does that line's ``sentence_cap``;
* exclusion phrases (the typical vocabulary of look-alike stories) subtract their weight, or
  veto the article outright.

Phrase syntax (terms, context and exclude entries alike), case-insensitive and matched on whole
words within one sentence:

* ``trade secret`` - consecutive words; punctuation inside words is ignored, so ``U.S.`` is
  ``u s`` and ``state-sponsored`` is ``state sponsored``; a possessive 's is dropped.
* ``tariff*`` - ``*`` at the end of a word matches any ending: tariff, tariffs, tariffed.
  It is a prefix, not a stemmer: irregular forms (steal / stole / stolen) are listed
  separately, and ``secret*`` would also match "secretary".
* ``secret(s)`` - an optional ending: secret or secrets, nothing else.
* ``stole | stolen | steal*`` - alternatives.
* ``steal* | stole & trade secret(s)`` - ``&`` requires every side in the SAME sentence, in any
  order ("stole ... trade secrets", "trade-secret theft"); ``&`` binds looser than ``|``.
  Being operators, ``&`` and ``|`` cannot appear inside a word: "R&D" in a text is the words
  ``r d``, so write ``r d``.

The reason and evidence show the words as written in the article, so an alert can highlight
them; ``Match.terms`` holds those words too (most weight first), not the watch's term keys.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

from classifiers.text import fold, split_sentences, word_spans, words
from newswatch.models import Evidence, Match

if TYPE_CHECKING:  # the config model: pydantic, which the extraction workers do without
    from classifiers.watch_spec import WatchSpec

MIN_PREFIX = 2  # "a*" would match half the language
NEGATION_WINDOW = 8  # tokens before a term in which a negation cue counts
FRAGMENT_WORDS = 20  # longest line that counts as a list item / another story's headline
PROSE_WORDS = 8  # a sentence at least this long means the story's prose has begun
EVIDENCE_SENTENCES = 3
EVIDENCE_CHARS = 300
REASON_TERMS = 5

_NEGATION_CUES = frozenset(
    ("not", "no", "never", "without", "neither", "nor", "none", "nothing", "unable", "cannot")
)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_SCOPE_BREAKS = frozenset(("but", "however", "although", "though", "while", "whereas", "yet"))
_WORD_SYNTAX = re.compile(r"(?P<core>[^*()\s]+?)(?:(?P<star>\*)|\((?P<suffix>[^()\s]*)\))?")
_CORE_CHARS = re.compile(r"[^\W_]|['’.\-]")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


class PhraseSyntaxError(ValueError):
    """A term, context or exclude entry that is not valid phrase syntax."""


# ----------------------------------------------------------------------------- phrase syntax


@dataclass(frozen=True, slots=True)
class _Slot:
    """One word position of a phrase: a set of exact words, or a prefix."""

    exact: frozenset[str] = frozenset()
    prefix: str = ""

    def matches(self, word: str) -> bool:
        return word in self.exact if not self.prefix else word.startswith(self.prefix)


_Phrase = tuple[_Slot, ...]
# An expression: groups that must all occur in one sentence; each group is alternatives.
_Expr = tuple[tuple[_Phrase, ...], ...]


def _parse_word(word: str, source: str) -> list[_Slot]:
    m = _WORD_SYNTAX.fullmatch(word)
    if m is None:
        raise PhraseSyntaxError(
            f"{source!r}: bad word {word!r} (use '*' or '(ending)' only at the end of a word)"
        )
    core, star, suffix = m.group("core"), m.group("star"), m.group("suffix")
    bad = [c for c in core if not _CORE_CHARS.fullmatch(c)]
    if bad:
        raise PhraseSyntaxError(f"{source!r}: character {bad[0]!r} is not allowed in a phrase")
    tokens = words(core)
    if not tokens:
        raise PhraseSyntaxError(f"{source!r}: {word!r} has no letters or digits")
    slots = [_Slot(exact=frozenset({t})) for t in tokens]
    last = tokens[-1]
    if star:
        if not core[-1].isalnum():
            raise PhraseSyntaxError(f"{source!r}: '*' must follow a letter or digit in {word!r}")
        if len(last) < MIN_PREFIX:
            raise PhraseSyntaxError(
                f"{source!r}: wildcard prefix {last!r} is shorter than {MIN_PREFIX} characters"
            )
        slots[-1] = _Slot(prefix=last)
    elif suffix is not None:
        if not suffix or not all(c.isalnum() for c in suffix):
            raise PhraseSyntaxError(f"{source!r}: optional ending in {word!r} must be letters")
        slots[-1] = _Slot(exact=frozenset({last, fold(last + suffix)}))
    return slots


def parse_expression(source: str) -> _Expr:
    """Parse ``a b | c & d*`` into groups of alternative phrases; raise PhraseSyntaxError."""
    if not source.strip():
        raise PhraseSyntaxError("empty phrase")
    groups: list[tuple[_Phrase, ...]] = []
    for group_src in source.split("&"):
        alts: list[_Phrase] = []
        for alt_src in group_src.split("|"):
            spelled = alt_src.split()
            if not spelled:
                raise PhraseSyntaxError(f"{source!r}: empty phrase around '|' or '&'")
            phrase: list[_Slot] = []
            for w in spelled:
                phrase.extend(_parse_word(w, source))
            alts.append(tuple(phrase))
        groups.append(tuple(alts))
    return tuple(groups)


def valid_watch_name(name: str) -> str:
    """`name`, if it can name a watch (letters, digits, '_' or '-'); else ValueError."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"watch name {name!r}: use letters, digits, '_' or '-'")
    return name


# ----------------------------------------------------------------------------- compiled watch


@dataclass(frozen=True, slots=True)
class _Rule:
    """A compiled term, context or exclude entry: groups of alternative phrase ids."""

    name: str
    weight: float  # 0 for context entries; math.inf for a veto
    groups: tuple[tuple[int, ...], ...]


# Occurrences of phrases in a document: unit index -> phrase id -> word positions.
_Found = dict[int, dict[int, list[int]]]


@dataclass(frozen=True, slots=True)
class _Index:
    """Every phrase of a watch, indexed by its first word."""

    phrases: tuple[_Phrase, ...]
    by_word: Mapping[str, tuple[int, ...]]
    by_prefix: Mapping[str, tuple[tuple[str, int], ...]]  # keyed by the prefix's first chars

    def find(self, doc: Document) -> _Found:
        # Look the watch's first words up in the document's word index rather than walking
        # every word of the text once per watch: a few hundred dict lookups per article.
        found: _Found = {}
        for word, pids in self.by_word.items():
            for flat in doc.where.get(word, ()):
                self._extend(doc, pids, flat, found)
        for head, cands in self.by_prefix.items():
            for word in doc.by_head.get(head, ()):
                pids = tuple(pid for prefix, pid in cands if word.startswith(prefix))
                for flat in doc.where[word] if pids else ():
                    self._extend(doc, pids, flat, found)
        return found

    def _extend(self, doc: Document, pids: Iterable[int], flat: int, found: _Found) -> None:
        u = bisect_right(doc.starts, flat) - 1
        pos = flat - doc.starts[u]
        unit_words = doc.units[u].words
        for pid in pids:
            slots = self.phrases[pid]
            if pos + len(slots) > len(unit_words):
                continue
            if all(slots[k].matches(unit_words[pos + k]) for k in range(1, len(slots))):
                found.setdefault(u, {}).setdefault(pid, []).append(pos)


@dataclass(frozen=True, slots=True)
class Scorer:
    """A watch compiled for scoring: its rules, indexed, and the numbers of its spec they are
    weighed with. Plain data: the extraction workers score with it and never load pydantic
    (the config model), ~10 MB a worker."""

    name: str
    threshold: float
    title_weight: float
    min_terms: int
    repeat_decay: float
    negation_factor: float
    fragment_weight: float
    sentence_cap: float | None
    terms: tuple[_Rule, ...]
    context: tuple[_Rule, ...]
    exclude: tuple[_Rule, ...]
    index: _Index
    # Phrase id -> the terms / context entries / exclude entries that use it.
    uses: Mapping[int, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]


@dataclass(frozen=True, slots=True)
class Watch:
    """A compiled watch, its spec beside it: build with :func:`compile_watch`, score with
    :func:`score` or :func:`classify`."""

    name: str
    spec: WatchSpec
    scorer: Scorer

    @property
    def enabled(self) -> bool:
        return self.spec.enabled

    @property
    def threshold(self) -> float:
        return self.spec.threshold


class _IndexBuilder:
    def __init__(self) -> None:
        self.ids: dict[_Phrase, int] = {}

    def rule(self, name: str, weight: float) -> _Rule:
        groups = tuple(tuple(self._id(p) for p in alts) for alts in parse_expression(name))
        return _Rule(name, weight, groups)

    def _id(self, phrase: _Phrase) -> int:
        return self.ids.setdefault(phrase, len(self.ids))

    def build(self) -> _Index:
        phrases = tuple(self.ids)
        by_word: dict[str, list[int]] = {}
        by_prefix: dict[str, list[tuple[str, int]]] = {}
        for pid, phrase in enumerate(phrases):
            first = phrase[0]
            if first.prefix:
                by_prefix.setdefault(first.prefix[:MIN_PREFIX], []).append((first.prefix, pid))
            for word in first.exact:
                by_word.setdefault(word, []).append(pid)
        return _Index(
            phrases,
            {w: tuple(v) for w, v in by_word.items()},
            {k: tuple(v) for k, v in by_prefix.items()},
        )


def compile_watch(name: str, spec: WatchSpec) -> Watch:
    """Compile a spec once; the result is immutable and safe to share between threads."""
    valid_watch_name(name)
    b = _IndexBuilder()
    terms = tuple(b.rule(p, w) for p, w in spec.terms.items())
    context = tuple(b.rule(p, 0.0) for p in spec.context)
    exclude = tuple(b.rule(p, math.inf if w is None else w) for p, w in spec.exclusions().items())
    uses: dict[int, tuple[set[int], set[int], set[int]]] = {}
    for kind, rules in enumerate((terms, context, exclude)):
        for r, rule in enumerate(rules):
            for pid in {pid for alts in rule.groups for pid in alts}:
                uses.setdefault(pid, (set(), set(), set()))[kind].add(r)
    frozen = {
        pid: (tuple(sorted(t)), tuple(sorted(c)), tuple(sorted(x)))
        for pid, (t, c, x) in uses.items()
    }
    scorer = Scorer(
        name,
        threshold=spec.threshold,
        title_weight=spec.title_weight,
        min_terms=spec.min_terms,
        repeat_decay=spec.repeat_decay,
        negation_factor=spec.negation_factor,
        fragment_weight=spec.fragment_weight,
        sentence_cap=spec.sentence_cap,
        terms=terms,
        context=context,
        exclude=exclude,
        index=b.build(),
        uses=frozen,
    )
    return Watch(name, spec, scorer)


# ----------------------------------------------------------------------------- documents


class _Unit(NamedTuple):
    """A sentence (or a title sentence) as the scorer sees it (a tuple: cheap to build)."""

    text: str
    words: tuple[str, ...]
    is_title: bool
    # A body line that does not end like a sentence: a list item, a headline of another
    # story ("Related", "What's hot"), a caption or navigation, rather than the story's prose.
    is_fragment: bool = False

    def negated(self, pos: int) -> bool:
        """Whether a negation cue stands within NEGATION_WINDOW words before ``pos``, with no
        clause break between ("did not ... but stole the code" is not negated)."""
        for w in reversed(self.words[max(0, pos - NEGATION_WINDOW) : pos]):
            if w in _NEGATION_CUES or w.endswith("n't"):
                return True
            if w in _SCOPE_BREAKS:
                return False
        return False


@dataclass(frozen=True, slots=True)
class Document:
    """Title and text split and tokenised once, then scored against any number of watches."""

    units: tuple[_Unit, ...]
    starts: tuple[int, ...]  # index of each unit's first word in the article's word sequence
    where: Mapping[str, list[int]]  # word -> its indexes in the article's word sequence
    by_head: Mapping[str, list[str]]  # first MIN_PREFIX characters -> distinct words (wildcards)


def prepare(title: str, text: str) -> Document:
    """Split and tokenise an article for :func:`classify`-style scoring."""
    units = [_Unit(s, tuple(words(s)), True) for s in split_sentences(title)]
    # A fragment is short and comes after the story's prose has begun: the lines before it
    # are the story's own headline, dek and byline; a long line is a quoted headline.
    prose = False
    for s in split_sentences(text):
        tokens = tuple(words(s))
        ends = _SENTENCE_END.search(s) is not None
        units.append(_Unit(s, tokens, False, prose and not ends and len(tokens) <= FRAGMENT_WORDS))
        prose = prose or (ends and len(tokens) >= PROSE_WORDS)
    units = [u for u in units if u.words]
    starts = tuple(accumulate((len(u.words) for u in units[:-1]), initial=0))
    where: dict[str, list[int]] = {}
    for flat, word in enumerate([w for u in units for w in u.words]):
        where.setdefault(word, []).append(flat)
    by_head: dict[str, list[str]] = {}
    for word in where:
        by_head.setdefault(word[:MIN_PREFIX], []).append(word)
    return Document(tuple(units), starts, where, by_head)


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class _Hit:
    """One occurrence of a term: its weight after title/negation, where, and which words."""

    weight: float
    unit: int
    parts: tuple[tuple[int, int], ...]  # (position, length) of each side of the term


@dataclass(slots=True)
class _Tally:
    """What one term added to the score, after repeats decay and sentence caps."""

    rule: _Rule
    hits: list[_Hit]  # strongest first
    total: float = 0.0


@dataclass(slots=True)
class _Scan:
    """Everything found for one watch in one document."""

    hits: list[list[_Hit]]  # per term
    term_units: set[int]
    context_units: set[int]
    excluded: dict[int, int]  # exclude rule -> occurrences
    veto: str | None


def _rule_hits(
    rule: _Rule, found: Mapping[int, list[int]], index: _Index, unit: _Unit
) -> list[tuple[bool, tuple[tuple[int, int], ...]]]:
    """Occurrences of a rule in one unit as (negated, parts)."""
    per_group: list[list[tuple[int, int]]] = []
    for alts in rule.groups:
        occ = sorted((p, len(index.phrases[pid])) for pid in alts for p in found.get(pid, ()))
        if not occ:
            return []
        per_group.append(occ)
    if len(per_group) == 1:
        return [(unit.negated(p), ((p, n),)) for p, n in per_group[0]]
    # A conjunction occurs as often as its scarcest side; negated if one side always is.
    neg = any(all(unit.negated(p) for p, _ in g) for g in per_group)
    parts = tuple(g[0] for g in per_group)
    return [(neg, parts)] * min(len(g) for g in per_group)


def _scan(scorer: Scorer, doc: Document) -> _Scan:
    scan = _Scan([[] for _ in scorer.terms], set(), set(), {}, None)
    for u, in_unit in scorer.index.find(doc).items():
        unit = doc.units[u]
        touched: tuple[set[int], set[int], set[int]] = (set(), set(), set())
        for pid in in_unit:
            for kind, rules in enumerate(scorer.uses[pid]):
                touched[kind].update(rules)
        for t in sorted(touched[0]):
            rule = scorer.terms[t]
            for negated, parts in _rule_hits(rule, in_unit, scorer.index, unit):
                weight = rule.weight * (scorer.title_weight if unit.is_title else 1.0)
                weight *= scorer.fragment_weight if unit.is_fragment else 1.0
                weight *= scorer.negation_factor if negated else 1.0
                scan.hits[t].append(_Hit(weight, u, parts))
                scan.term_units.add(u)
        if any(_rule_hits(scorer.context[c], in_unit, scorer.index, unit) for c in touched[1]):
            scan.context_units.add(u)
        for x in sorted(touched[2]):
            rule = scorer.exclude[x]
            n = len(_rule_hits(rule, in_unit, scorer.index, unit))
            if n:
                scan.excluded[x] = scan.excluded.get(x, 0) + n
                if math.isinf(rule.weight) and scan.veto is None:
                    scan.veto = rule.name
    return scan


def _tally(scorer: Scorer, doc: Document, scan: _Scan) -> tuple[list[_Tally], dict[int, float]]:
    """Per-term totals (strongest first) and per-unit contributions."""
    # Diminishing repeats: a term's strongest occurrence counts in full, the next ones decay.
    decayed: list[tuple[_Rule, list[tuple[float, _Hit]]]] = []
    unit_raw: dict[int, float] = {}
    for rule, hits in zip(scorer.terms, scan.hits, strict=True):
        ordered = sorted(hits, key=lambda h: (-h.weight, h.unit))
        values = [(h.weight * scorer.repeat_decay**k, h) for k, h in enumerate(ordered)]
        decayed.append((rule, values))
        for value, h in values:
            unit_raw[h.unit] = unit_raw.get(h.unit, 0.0) + value
    # Sentence cap: one dense sentence (a passing mention) cannot carry the article.
    scale: dict[int, float] = {}
    for u, raw in unit_raw.items():
        cap = scorer.sentence_cap
        if cap is not None and doc.units[u].is_title:
            cap *= max(scorer.title_weight, 1.0)
        elif cap is not None and doc.units[u].is_fragment:
            cap *= scorer.fragment_weight
        scale[u] = min(1.0, cap / raw) if cap is not None and raw > 0 else 1.0

    tallies: list[_Tally] = []
    unit_score: dict[int, float] = {}
    for rule, values in decayed:
        if not values:
            continue
        tally = _Tally(rule, [h for _, h in values])
        for value, h in values:
            v = value * scale[h.unit]
            tally.total += v
            unit_score[h.unit] = unit_score.get(h.unit, 0.0) + v
        if tally.total > 0:  # a term only ever seen negated (negation_factor 0) is no evidence
            tallies.append(tally)
    tallies.sort(key=lambda t: -t.total)
    return tallies, unit_score


def _trim(text: str, first_char: int) -> str:
    """The sentence, or a window of about EVIDENCE_CHARS around ``first_char``."""
    if len(text) <= EVIDENCE_CHARS:
        return text
    start = max(0, min(first_char - EVIDENCE_CHARS // 3, len(text) - EVIDENCE_CHARS))
    end = start + EVIDENCE_CHARS
    if start > 0:  # cut at word boundaries
        start = text.find(" ", start) + 1 or start
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    return ("…" if start > 0 else "") + text[start:end].strip() + ("…" if end < len(text) else "")


class _Surfaces:
    """The words of a hit as written in the text (for evidence and reasons)."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.spans: dict[int, list[tuple[int, int]]] = {}

    def span_list(self, u: int) -> list[tuple[int, int]] | None:
        if u not in self.spans:
            self.spans[u] = word_spans(self.doc.units[u].text)
        spans = self.spans[u]
        # Casefolding can change the word count in rare scripts; fall back to folded words.
        return spans if len(spans) == len(self.doc.units[u].words) else None

    def of(self, h: _Hit) -> list[str]:
        unit, spans = self.doc.units[h.unit], self.span_list(h.unit)
        if spans is None:
            return [" ".join(unit.words[pos : pos + n]) for pos, n in h.parts]
        return [unit.text[spans[pos][0] : spans[pos + n - 1][1]] for pos, n in h.parts]

    def first_char(self, h: _Hit) -> int:
        spans = self.span_list(h.unit)
        return spans[min(pos for pos, _ in h.parts)][0] if spans else 0


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
    return tuple(seen.values())


def _evidence(
    doc: Document, tallies: list[_Tally], unit_score: dict[int, float], surfaces: _Surfaces
) -> tuple[Evidence, ...]:
    """The sentences that added most, each with the words that fired in it (for highlighting);
    body sentences first, since the title is shown with the alert anyway."""
    scored = [u for u, v in unit_score.items() if v > 0]
    ranked = sorted(scored, key=lambda u: (doc.units[u].is_title, -unit_score[u], u))
    body = [u for u in ranked if not doc.units[u].is_title]
    out: list[Evidence] = []
    for u in (body or ranked)[:EVIDENCE_SENTENCES]:
        hits = [h for t in tallies for h in t.hits if h.unit == u]  # strongest term first
        first = min(hits, key=lambda h: min(pos for pos, _ in h.parts))
        words_found = _dedupe(w for h in hits for w in surfaces.of(h))
        out.append(Evidence(_trim(doc.units[u].text, surfaces.first_char(first)), words_found))
    return tuple(out)


def _listing(
    doc: Document, tallies: list[_Tally], penalties: list[tuple[str, float]], surfaces: _Surfaces
) -> str:
    """One line: 'trade secrets' ×3 (title), 'stole' + 'source code'; minus 'ransomware' 2.0"""
    items = []
    for t in tallies[:REASON_TERMS]:
        label = " + ".join(f"'{w}'" for w in surfaces.of(t.hits[0]))
        if len(t.hits) > 1:
            label += f" ×{len(t.hits)}"
        if any(doc.units[h.unit].is_title for h in t.hits):
            label += " (title)"
        items.append(label)
    if len(tallies) > REASON_TERMS:
        items.append("…")
    text = ", ".join(items)
    if penalties:
        text += "; minus " + ", ".join(f"'{n}' {a:.1f}" for n, a in penalties[:3])
    return text


def _score_document(scorer: Scorer, doc: Document) -> Match:
    scan = _scan(scorer, doc)
    tallies, unit_score = _tally(scorer, doc, scan)
    penalties = sorted(
        (
            (rule.name, rule.weight * sum(scorer.repeat_decay**k for k in range(n)))
            for rule, n in ((scorer.exclude[x], n) for x, n in scan.excluded.items())
            if not math.isinf(rule.weight)
        ),
        key=lambda p: -p[1],
    )
    total = sum(t.total for t in tallies) - sum(a for _, a in penalties)
    value = round(max(total, 0.0), 3)
    surfaces = _Surfaces(doc)

    matched = False
    if scan.veto is not None:
        reason = f"rejected: excluded by '{scan.veto}'"
    elif not tallies:
        reason = "no terms found"
    elif scorer.context and not (scan.term_units & scan.context_units):
        reason = "rejected: no required context in any sentence"
    elif len(tallies) < scorer.min_terms:
        listing = _listing(doc, tallies, penalties, surfaces)
        reason = f"rejected: {len(tallies)} distinct term(s), need {scorer.min_terms}: {listing}"
    else:
        matched = value >= scorer.threshold
        listing = _listing(doc, tallies, penalties, surfaces)
        reason = f"score {value:.1f} {'≥' if matched else '<'} {scorer.threshold:g}: {listing}"

    return Match(
        watch=scorer.name,
        score=value,
        threshold=scorer.threshold,
        matched=matched,
        # The words as the article wrote them (most weight first): what an analyst recognises.
        terms=_dedupe(w for t in tallies for w in surfaces.of(t.hits[0])),
        evidence=_evidence(doc, tallies, unit_score, surfaces),
        reason=reason,
    )


def score(watch: Watch | Scorer, title: str, text: str) -> Match:
    """Score one article against one watch (matched or not, always with a reason)."""
    return _score_document(_scorer(watch), prepare(title, text))


def classify(watches: Sequence[Watch | Scorer], title: str, text: str) -> list[Match]:
    """One Match per watch, in the order given; the text is split and tokenised once."""
    doc = prepare(title, text)
    return [_score_document(_scorer(w), doc) for w in watches]


def _scorer(watch: Watch | Scorer) -> Scorer:
    return watch.scorer if isinstance(watch, Watch) else watch
