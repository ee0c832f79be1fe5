"""`newswatch eval classify`: the configured watches measured on hand-labeled records.

A record file is JSON Lines: one object a line with ``text`` (first line = title, as the
pipeline gives an article's title separately) and one 0/1 field per watch, e.g.
``{"id": "a1", "text": "Title\\nBody ...", "ip_theft": 1, "trade_deal": 0}``. Other fields
(``id``, ``url``, ``why``) are carried along for the error listing. Only the watches that are
both configured and labeled are reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from classifiers.watches import Watch, classify
from newswatch.match_view import evidence_lines
from newswatch.models import Match


class EvalDataError(ValueError):
    """The labeled file cannot be used; the message names the line at fault."""


@dataclass(frozen=True, slots=True)
class LabeledRecord:
    """One labeled text: its id, the text (first line = title) and a 0/1 label per watch."""

    id: str
    text: str
    labels: Mapping[str, bool]

    @property
    def title(self) -> str:
        return split_title(self.text)[0]


def split_title(text: str) -> tuple[str, str]:
    """(title, body): the first line is the title, the rest the body."""
    title, _, body = text.strip().partition("\n")
    return title.strip(), body


def _label(value: Any) -> bool | None:
    """A 0/1 (or true/false) label, or None for a field that is not a label."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def json_objects(
    lines: Iterable[str], where: str, error: type[ValueError]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON object on each non-blank line, with its line number; `error` names the line
    of one that is not valid JSON or not an object."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where}: line {number}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise error(f"{where}: line {number}: expected a JSON object")
        yield number, data


def parse_records(lines: Iterable[str], where: str = "records") -> list[LabeledRecord]:
    """Parse JSON Lines records; raise EvalDataError with the line of a bad one."""
    records: list[LabeledRecord] = []
    for number, data in json_objects(lines, where, EvalDataError):
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise EvalDataError(f"{where}: line {number}: no 'text' field with text in it")
        labels = {k: v for k, v in ((k, _label(v)) for k, v in data.items()) if v is not None}
        rid = data.get("id")
        records.append(
            LabeledRecord(str(rid) if rid is not None else f"line {number}", text, labels)
        )
    if not records:
        raise EvalDataError(f"{where}: no records")
    return records


def read_records(path: Path) -> list[LabeledRecord]:
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_records(content.splitlines(), str(path))


def labeled_watches(records: Sequence[LabeledRecord], configured: Iterable[str] = ()) -> list[str]:
    """Names every record labels, in the order the first record gives them; a configured
    watch labeled in some records only is an error (its figures would mislead)."""
    for name in configured:
        missing = [r.id for r in records if name not in r.labels]
        if missing and len(missing) < len(records):
            raise EvalDataError(
                f"{name!r} is labeled in {len(records) - len(missing)} of {len(records)} "
                f"records; not in {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}"
            )
    return [n for n in records[0].labels if all(n in r.labels for r in records)]


@dataclass(slots=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, gold: bool) -> None:
        if predicted and gold:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Miss:
    """A wrong decision: a false positive or a false negative, with the watch's Match."""

    kind: Literal["FP", "FN"]
    record: LabeledRecord
    match: Match


@dataclass(slots=True)
class WatchResult:
    watch: Watch
    confusion: Confusion = field(default_factory=Confusion)
    misses: list[Miss] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Evaluation:
    records: int
    results: tuple[WatchResult, ...]
    # Labeled but not configured, and configured but not labeled: reported, not scored.
    unconfigured: tuple[str, ...] = ()
    unlabeled: tuple[str, ...] = ()

    def as_json(self, *, errors: bool = False) -> dict[str, Any]:
        """``{"records": N, "watches": {name: {precision, recall, f1, tp, fp, fn, tn}}}``,
        with each watch's ``errors`` (id, kind, score, reason, evidence) when asked."""
        watches: dict[str, Any] = {}
        for res in self.results:
            c = res.confusion
            entry: dict[str, Any] = {
                "precision": round(c.precision, 4),
                "recall": round(c.recall, 4),
                "f1": round(c.f1, 4),
                "tp": c.tp,
                "fp": c.fp,
                "fn": c.fn,
                "tn": c.tn,
            }
            if errors:
                entry["errors"] = [
                    {
                        "id": m.record.id,
                        "kind": m.kind,
                        "title": m.record.title,
                        "score": m.match.score,
                        "threshold": m.match.threshold,
                        "reason": m.match.reason,
                        "evidence": [
                            {"sentence": e.sentence, "terms": list(e.terms)}
                            for e in m.match.evidence
                        ],
                    }
                    for m in res.misses
                ]
            watches[res.watch.name] = entry
        return {"records": self.records, "watches": watches}


def evaluate(watches: Sequence[Watch], records: Sequence[LabeledRecord]) -> Evaluation:
    """Score every record against the watches that are both configured and labeled."""
    configured = {w.name: w for w in watches}
    labeled = labeled_watches(records, configured)
    scored = [configured[n] for n in configured if n in labeled]
    results = tuple(WatchResult(w) for w in scored)
    for record in records:
        title, body = split_title(record.text)
        for res, match in zip(results, classify(scored, title, body), strict=True):
            gold = record.labels[res.watch.name]
            res.confusion.add(match.matched, gold)
            if match.matched != gold:
                res.misses.append(Miss("FP" if match.matched else "FN", record, match))
    return Evaluation(
        records=len(records),
        results=results,
        unconfigured=tuple(n for n in labeled if n not in configured),
        unlabeled=tuple(n for n in configured if n not in labeled),
    )


# ----------------------------------------------------------------------------- rendering


def render_evaluation(evaluation: Evaluation, *, errors: bool = False) -> RenderableType:
    """Per watch: precision, recall, F1 and the confusion counts; with ``errors``, every false
    positive and false negative with its score, reason and highlighted evidence."""
    table = Table(
        title=f"{evaluation.records} labeled records",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("watch")
    for header in ("precision", "recall", "F1", "tp", "fp", "fn", "tn"):
        table.add_column(header, justify="right")
    for res in evaluation.results:
        c = res.confusion
        table.add_row(
            Text(res.watch.name),
            f"{c.precision:.3f}",
            f"{c.recall:.3f}",
            f"{c.f1:.3f}",
            *(str(n) for n in (c.tp, c.fp, c.fn, c.tn)),
        )
    parts: list[RenderableType] = [table]
    if evaluation.unconfigured:
        parts.append(Text(f"labeled, not configured: {', '.join(evaluation.unconfigured)}", "dim"))
    if evaluation.unlabeled:
        parts.append(Text(f"configured, not labeled: {', '.join(evaluation.unlabeled)}", "dim"))
    if errors:
        for res in evaluation.results:
            parts.append(Text(f"\n{res.watch.name}: {len(res.misses)} error(s)", "bold"))
            for miss in res.misses:
                line = Text(f"  {miss.kind} ", "bold red" if miss.kind == "FP" else "bold yellow")
                line.append(f"{miss.record.id}  {miss.match.score:.1f}/{miss.match.threshold:g}  ")
                line.append(miss.record.title[:100])
                parts.append(line)
                parts.append(Text(f"     {miss.match.reason}", "dim"))
                parts.extend(evidence_lines(miss.match.evidence, indent="     "))
    return Group(*parts)
