"""Which classifier to ship: phrase watches, a statistical model, or both, measured on dev.

    uv run --group bench python bench/classify_methods.py [--data PATH] [--repeats 10]

Methods, per watch:

(a)  the phrase watches of newswatch/defaults.toml as they are. They were written by people
     who had read dev, so their dev figure is optimistic and cannot be cross-validated by
     re-fitting; three proxies are printed instead: the same fixed rules scored fold by fold
     (how much the figure depends on which texts are drawn), the threshold re-chosen on the
     training folds of each split and scored on the held-out fold (the only parameter a
     fold can re-fit), and a pessimistic figure where every dev decision that hangs on a
     term or exclusion deciding no other dev text is counted as wrong (had that term been
     written to fit that one text, a new text would not have it).
(b)  TF-IDF (words and bigrams) + logistic regression, balanced classes, trained per fold.
(c)  combinations: rules OR model, rules AND model, and a stacked logistic regression over
     the TF-IDF features plus the rule score (score / threshold, gates passed).

Cross-validation is stratified 5-fold, repeated (--repeats) with different shuffles; the
figures pool each repetition's out-of-fold predictions, then average over repetitions (± the
standard deviation). A last column scores each method, trained on all of dev, on the
newsroom's written sample articles (newswatch/newsroom/articles, labeled by their `expect`):
out of dev, though written for this project.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers.watches import Watch, compile_watch, score  # noqa: E402
from newswatch.config import load_settings  # noqa: E402
from newswatch.evaluate import Confusion, read_records, split_title  # noqa: E402
from newswatch.newsroom.samples import load_later_articles, load_sample_articles  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "classification" / "dev.jsonl"
FOLDS = 5
THRESHOLD_GRID = [round(0.5 + 0.05 * k, 2) for k in range(21)]  # x0.50 .. x1.50

Texts = list[tuple[str, str]]  # (title, body)


@dataclass(frozen=True)
class RuleScores:
    """The fixed rules' verdicts on a set of texts."""

    matched: np.ndarray  # bool
    ratio: np.ndarray  # score / threshold
    gates: np.ndarray  # bool: veto, context and min_terms passed ("score ..." reasons)


def rule_scores(watch: Watch, texts: Texts) -> RuleScores:
    ms = [score(watch, t, b) for t, b in texts]
    return RuleScores(
        np.array([m.matched for m in ms]),
        np.array([m.score / m.threshold for m in ms]),
        np.array([m.reason.startswith("score") for m in ms]),
    )


def confusion(pred: Iterable[Any], gold: Iterable[Any]) -> Confusion:
    c = Confusion()
    for p, g in zip(pred, gold, strict=True):
        c.add(bool(p), bool(g))
    return c


def joined(texts: Texts) -> list[str]:
    return [f"{t}\n{b}" for t, b in texts]


def vectorizer(common_only: bool = False) -> TfidfVectorizer:
    """Words and bigrams; with ``common_only``, words that are mostly written capitalised
    (names of people, companies, places, outlets) are dropped before n-grams are made, so the
    model can only learn general vocabulary."""
    return TfidfVectorizer(
        sublinear_tf=True,
        ngram_range=(1, 2),
        min_df=2,
        stop_words="english",
        max_df=0.9,
        lowercase=not common_only,
        preprocessor=_drop_names if common_only else None,
    )


_WORD = re.compile(r"\b\w\w+\b")


def _drop_names(text: str) -> str:
    return " ".join(w.lower() for w in _WORD.findall(text) if w.lower() not in NAMES)


NAMES: set[str] = set()


def learn_names(texts: list[str]) -> None:
    """Words written capitalised in most of their occurrences in ``texts`` (dev as a whole:
    a vocabulary filter, not a label-dependent choice)."""
    upper: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for text in texts:
        for w in _WORD.findall(text):
            total[w.lower()] += 1
            upper[w.lower()] += w[0].isupper()
    NAMES.clear()
    NAMES.update(w for w, n in total.items() if upper[w] > n / 2)


def model(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000)


def rule_features(r: RuleScores, idx: np.ndarray) -> csr_matrix:
    return csr_matrix(np.column_stack([np.minimum(r.ratio[idx], 3.0), r.gates[idx] * 1.0]))


# A method: (train texts, train labels, train rules, test texts, test rules) -> test predictions
Method = Callable[[list[str], np.ndarray, RuleScores, list[str], RuleScores], np.ndarray]


def _all(r: RuleScores) -> np.ndarray:
    return np.arange(len(r.matched))


def m_rules(
    tr: list[str], y: np.ndarray, rtr: RuleScores, te: list[str], rte: RuleScores
) -> np.ndarray:
    return rte.matched


def m_rules_refit(
    tr: list[str], y: np.ndarray, rtr: RuleScores, te: list[str], rte: RuleScores
) -> np.ndarray:
    best = max(THRESHOLD_GRID, key=lambda f: (_f1(rtr, y, f), -abs(f - 1.0)))
    CHOSEN.append(best)
    return rte.gates & (rte.ratio >= best - 1e-9)


def _f1(r: RuleScores, y: np.ndarray, factor: float) -> float:
    return confusion(r.gates & (r.ratio >= factor - 1e-9), y).f1


def m_model(c: float, *, proba: float = 0.5, common_only: bool = False) -> Method:
    def run(
        tr: list[str], y: np.ndarray, rtr: RuleScores, te: list[str], rte: RuleScores
    ) -> np.ndarray:
        vec = vectorizer(common_only)
        clf = model(c).fit(vec.fit_transform(tr), y)
        return np.asarray(clf.predict_proba(vec.transform(te))[:, 1] >= proba)

    return run


def m_or(c: float, common_only: bool = False) -> Method:
    inner = m_model(c, common_only=common_only)

    def run(
        tr: list[str], y: np.ndarray, rtr: RuleScores, te: list[str], rte: RuleScores
    ) -> np.ndarray:
        return rte.matched | inner(tr, y, rtr, te, rte)

    return run


def m_and(c: float) -> Method:
    inner = m_model(c)

    def run(
        tr: list[str], y: np.ndarray, rtr: RuleScores, te: list[str], rte: RuleScores
    ) -> np.ndarray:
        return rte.matched & inner(tr, y, rtr, te, rte)

    return run


def m_stacked(c: float) -> Method:
    def run(
        tr: list[str], y: np.ndarray, rtr: RuleScores, te: list[str], rte: RuleScores
    ) -> np.ndarray:
        vec = vectorizer()
        xtr = hstack([vec.fit_transform(tr), rule_features(rtr, _all(rtr))]).tocsr()
        xte = hstack([vec.transform(te), rule_features(rte, _all(rte))]).tocsr()
        return np.asarray(model(c).fit(xtr, y).predict(xte), dtype=bool)

    return run


CHOSEN: list[float] = []


def subset(r: RuleScores, idx: np.ndarray) -> RuleScores:
    return RuleScores(r.matched[idx], r.ratio[idx], r.gates[idx])


def cross_validate(
    method: Method, texts: list[str], y: np.ndarray, rules: RuleScores, repeats: int
) -> tuple[list[float], list[float], list[float]]:
    """Per repetition: P, R, F1 of the pooled out-of-fold predictions."""
    ps, rs, fs = [], [], []
    splitter = RepeatedStratifiedKFold(n_splits=FOLDS, n_repeats=repeats, random_state=7)
    splits = list(splitter.split(np.zeros(len(y)), y))
    for rep in range(repeats):
        pred = np.zeros(len(y), dtype=bool)
        for train, test in splits[rep * FOLDS : (rep + 1) * FOLDS]:
            pred[test] = method(
                [texts[i] for i in train],
                y[train],
                subset(rules, train),
                [texts[i] for i in test],
                subset(rules, test),
            )
        c = confusion(pred, y)
        ps.append(c.precision)
        rs.append(c.recall)
        fs.append(c.f1)
    return ps, rs, fs


def pessimistic(watch: Watch, texts: Texts, y: np.ndarray, base: np.ndarray) -> Confusion:
    """Count as wrong every right dev decision that only one term or exclusion decides, where
    that entry decides no other dev text."""
    deciding: dict[int, set[str]] = {}
    entries = [("terms", k) for k in watch.spec.terms] + [
        ("exclude", k) for k in watch.spec.exclude
    ]
    for field, key in entries:
        table = dict(getattr(watch.spec, field))
        del table[key]
        if field == "terms" and not table:
            continue
        reduced = compile_watch(watch.name, watch.spec.model_copy(update={field: table}))
        flips = {
            i
            for i, (t, b) in enumerate(texts)
            if base[i] == y[i] and score(reduced, t, b).matched != base[i]
        }
        if len(flips) == 1:
            deciding.setdefault(flips.pop(), set()).add(f"{field}:{key}")
    pred = base.copy()
    for i in deciding:
        pred[i] = not pred[i]
    PESSIMISTIC_DOCS[watch.name] = sorted(deciding)
    return confusion(pred, y)


PESSIMISTIC_DOCS: dict[str, list[int]] = {}


def predict_ms(label: str, watch: Watch, docs: list[str], y: np.ndarray, texts: Texts) -> float:
    """Milliseconds per article to classify (training excluded): the rules' scoring, plus a
    TF-IDF transform and a dot product where a model takes part."""
    start = time.perf_counter()
    rule_scores(watch, texts)
    rules_ms = 1000 * (time.perf_counter() - start) / len(texts)
    if label.startswith("(a)"):
        return rules_ms
    vec = vectorizer()
    clf = model(10.0).fit(vec.fit_transform(docs), y)
    start = time.perf_counter()
    clf.predict_proba(vec.transform(joined(texts)))
    model_ms = 1000 * (time.perf_counter() - start) / len(texts)
    return model_ms if label.startswith("(b)") else rules_ms + model_ms


def fmt(values: list[float]) -> str:
    sd = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f}±{sd:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--config", type=Path, default=None, help="watches from this config")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the one-entry texts")
    args = ap.parse_args()

    settings = load_settings(args.config)
    records = read_records(args.data)
    texts: Texts = [split_title(r.text) for r in records]
    docs = joined(texts)
    samples = load_sample_articles() + load_later_articles()
    sample_texts: Texts = [(a.title, a.text) for a in samples if not a.is_syndicated]
    sample_expect = [a.expect for a in samples if not a.is_syndicated]

    c_model = 10.0
    learn_names(docs)
    methods: list[tuple[str, Method]] = [
        ("(a) phrase watches, fixed", m_rules),
        ("(a) threshold re-fit per fold", m_rules_refit),
        ("(b) TF-IDF + LR, C=1", m_model(1.0)),
        ("(b) TF-IDF + LR, C=10", m_model(c_model)),
        ("(b) TF-IDF + LR, C=100", m_model(100.0)),
        ("(b) TF-IDF + LR, C=10, no names", m_model(c_model, common_only=True)),
        ("(c) rules OR model (C=10)", m_or(c_model)),
        ("(c) rules OR model, no names", m_or(c_model, common_only=True)),
        ("(c) rules AND model (C=10)", m_and(c_model)),
        ("(c) stacked LR: TF-IDF + rule score", m_stacked(c_model)),
    ]
    print(
        f"{len(records)} dev records; {FOLDS}-fold stratified CV x {args.repeats} repeats; "
        f"newsroom: {len(sample_texts)} written sample articles\n"
    )
    header = (
        f"{'method':38s} {'dev P/R/F1 (fit on dev)':>24s} "
        f"{'CV precision':>13s} {'CV recall':>13s} {'CV F1':>13s} "
        f"{'newsroom F1':>11s} {'ms/art':>7s}"
    )
    for name, spec in settings.watches.items():
        if not spec.enabled:
            continue
        watch = compile_watch(name, spec)
        y = np.array([r.labels[name] for r in records])
        rules = rule_scores(watch, texts)
        srules = rule_scores(watch, sample_texts)
        sy = np.array([name in e for e in sample_expect])
        print(f"== {name}: {int(y.sum())} positives of {len(y)}")
        print(header)
        for label, method in methods:
            CHOSEN.clear()
            full = method(docs, y, rules, docs, rules)
            dev = confusion(full, y)
            news = method(docs, y, rules, joined(sample_texts), srules)
            per_article = predict_ms(label, watch, docs, y, sample_texts)
            CHOSEN.clear()
            ps, rs, fs = cross_validate(method, docs, y, rules, args.repeats)
            chosen = ""
            if CHOSEN:
                q = sorted(CHOSEN)
                chosen = f"   threshold x{q[0]:.2f}..x{q[-1]:.2f} (median x{q[len(q) // 2]:.2f})"
            print(
                f"{label:38s} {dev.precision:6.3f}/{dev.recall:5.3f}/{dev.f1:5.3f}      "
                f"{fmt(ps):>13s} {fmt(rs):>13s} {fmt(fs):>13s} "
                f"{confusion(news, sy).f1:11.3f} {per_article:7.2f}{chosen}"
            )
        worst = pessimistic(watch, texts, y, rules.matched)
        print(
            f"{'(a) pessimistic: one-text entries wrong':38s} "
            f"{worst.precision:6.3f}/{worst.recall:5.3f}/{worst.f1:5.3f}      "
            f"(dev decisions that hang on an entry deciding no other text: "
            f"{len(PESSIMISTIC_DOCS[name])})"
        )
        # Would the model make up for the rules where they were fitted? Pessimistic rules OR
        # the cross-validated model.
        flipped = rules.matched.copy()
        flipped[PESSIMISTIC_DOCS[name]] = ~flipped[PESSIMISTIC_DOCS[name]]
        weak = RuleScores(flipped, rules.ratio, rules.gates)
        ps, rs, fs = cross_validate(m_or(c_model), docs, y, weak, args.repeats)
        print(
            f"{'(c) pessimistic rules OR model':38s} {'':24s} "
            f"{fmt(ps):>13s} {fmt(rs):>13s} {fmt(fs):>13s}"
        )
        vec = vectorizer()
        clf = model(c_model).fit(vec.fit_transform(docs), y)
        top = np.argsort(clf.coef_[0])[::-1][:15]
        names = vec.get_feature_names_out()
        print("    model's 15 strongest positive features: " + ", ".join(names[top]))
        if args.verbose:
            for i in PESSIMISTIC_DOCS[name]:
                title = texts[i][0][:70]
                print(f"    hangs on one entry: {records[i].id} gold={int(y[i])} {title!r}")
        print()


if __name__ == "__main__":
    main()
