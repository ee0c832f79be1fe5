"""Classification quality of the default watches on the labeled dev set.

    uv run python bench/classify_quality.py [--data PATH] [--watches PATH] [-v]

Scores every record (title = first line of the text, text = the rest), then prints per watch
precision / recall / F1 with confusion counts, the same figures on 5 folds (a rule that only
fits one example shows up as an unstable fold), how F1 moves when the threshold moves +-20%,
every term that fires in at most one dev document, and (with --ablate) how many dev decisions
each term decides: a term that alone rescues one example is a candidate for overfitting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers.watch_spec import parse_watches  # noqa: E402
from classifiers.watches import Watch, classify, compile_watch  # noqa: E402
from newswatch.models import Match  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "classification" / "dev.jsonl"
DEFAULT_WATCHES = ROOT / "newswatch" / "defaults.toml"


def prf(pairs: list[tuple[bool, bool]]) -> tuple[float, float, float, Counter[str]]:
    c: Counter[str] = Counter()
    for predicted, gold in pairs:
        c[("t" if predicted == gold else "f") + ("p" if predicted else "n")] += 1
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, c


def ablate(watch: Watch, records: list[dict[str, object]], predicted: list[bool]) -> None:
    """Print the terms without which some dev decision changes (+tp/-fp is what they buy)."""
    for term in watch.spec.terms:
        terms = {k: v for k, v in watch.spec.terms.items() if k != term}
        reduced = compile_watch(watch.name, watch.spec.model_copy(update={"terms": terms}))
        gained_tp = gained_fp = 0
        for rec, before in zip(records, predicted, strict=True):
            title, _, text = str(rec["text"]).partition("\n")
            after = classify([reduced], title, text)[0].matched
            if before and not after:
                gained_tp += bool(rec[watch.name])
                gained_fp += not rec[watch.name]
        if gained_tp or gained_fp:
            print(f"    needed for +{gained_tp} tp / +{gained_fp} fp: {term!r}")


def term_document_counts(watch: Watch, records: list[dict[str, object]]) -> Counter[str]:
    """In how many records each term of the watch fires (Match.terms holds the words as
    written, so each term is scored on its own)."""
    df: Counter[str] = Counter()
    for term, weight in watch.spec.terms.items():
        alone = watch.spec.model_copy(
            update={"terms": {term: weight}, "exclude": {}, "context": [], "min_terms": 1}
        )
        single = compile_watch(watch.name, alone)
        for rec in records:
            title, _, text = str(rec["text"]).partition("\n")
            df[term] += classify([single], title, text)[0].score > 0
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--watches", type=Path, default=DEFAULT_WATCHES)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every error's reason")
    ap.add_argument("--ablate", action="store_true", help="drop each term in turn, count flips")
    args = ap.parse_args()

    watches: list[Watch] = parse_watches(tomllib.loads(args.watches.read_text())["watches"])
    records = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]

    results: list[list[Match]] = []
    t0 = time.perf_counter()
    for rec in records:
        title, _, text = rec["text"].partition("\n")
        results.append(classify(watches, title, text))
    elapsed = time.perf_counter() - t0
    chars = sum(len(r["text"]) for r in records)
    print(
        f"{len(records)} records, {chars / len(records):.0f} chars avg; "
        f"{1000 * elapsed / len(records):.3f} ms per record for {len(watches)} watches\n"
    )

    for w, watch in enumerate(watches):
        name = watch.name
        pairs = [
            (res[w].matched, bool(rec[name])) for rec, res in zip(records, results, strict=True)
        ]
        p, r, f, c = prf(pairs)
        print(
            f"{name:10s} P={p:.3f} R={r:.3f} F1={f:.3f}  "
            f"tp={c['tp']} fp={c['fp']} fn={c['fn']} tn={c['tn']}"
        )
        folds = [prf(pairs[k::5]) for k in range(5)]
        print("  5 folds F1: " + " ".join(f"{fo[2]:.2f}" for fo in folds))
        sens = []
        for factor in (0.8, 0.9, 1.1, 1.2):
            t = watch.threshold * factor
            # Gates (veto, context, min_terms) passed <=> the reason starts with "score".
            moved = [
                (res[w].reason.startswith("score") and res[w].score >= t, gold)
                for res, (_, gold) in zip(results, pairs, strict=True)
            ]
            sens.append(f"x{factor}: {prf(moved)[2]:.2f}")
        print("  threshold sensitivity F1: " + ", ".join(sens))
        df = term_document_counts(watch, records)
        rare = [t for t in watch.spec.terms if df[t] <= 1]
        print(f"  terms firing in <=1 dev document: {len(rare)}/{len(watch.spec.terms)}")
        if args.verbose:
            print("    " + "; ".join(f"{t!r}={df[t]}" for t in rare))
        if args.ablate:
            ablate(watch, records, [p for p, _ in pairs])
        for rec, res, (pred, gold) in zip(records, results, pairs, strict=True):
            if pred != gold or (args.verbose and gold):
                tag = "FP" if pred and not gold else "FN" if gold and not pred else "ok"
                print(f"  {tag} {rec['id']} {res[w].score:5.1f} {rec['text'][:60]!r}")
                if args.verbose or tag != "ok":
                    print(f"       {res[w].reason}")
        print()


if __name__ == "__main__":
    main()
