"""How a watch's verdict is shown in the terminal: score, reason, evidence sentences with the
words that fired highlighted. Page text is always plain ``Text``, never console markup."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from classifiers.watches import Watch
from newswatch.models import Evidence, Match

TERM_STYLE = "bold black on yellow"


def highlighted(sentence: str, terms: Iterable[str], style: str = TERM_STYLE) -> Text:
    """The sentence as plain text with each term (as written in it) highlighted where it
    stands as whole words."""
    text = Text(sentence)
    for term in sorted(set(terms), key=len, reverse=True):
        pattern = r"(?<!\w)" + re.escape(term) + r"(?!\w)"
        for m in re.finditer(pattern, sentence, re.IGNORECASE):
            text.stylize(style, m.start(), m.end())
    return text


def evidence_lines(evidence: Sequence[Evidence], indent: str = "    ") -> list[Text]:
    lines = []
    for ev in evidence:
        line = Text(f"{indent}“")
        line.append_text(highlighted(ev.sentence, ev.terms))
        line.append("”")
        lines.append(line)
    return lines


def render_match(match: Match, watch: Watch) -> RenderableType:
    """A watch's verdict, score, reason and highlighted evidence."""
    verdict = Text()
    verdict.append(
        "MATCH " if match.matched else "no    ", "bold green" if match.matched else "dim"
    )
    verdict.append(f"{watch.name}", "bold")
    verdict.append(f"  {watch.spec.title}  ")
    verdict.append(f"score {match.score:.1f} / threshold {match.threshold:g}")
    parts: list[RenderableType] = [verdict, Text(f"    {match.reason}", style="dim")]
    parts.extend(evidence_lines(match.evidence))
    return Group(*parts)
