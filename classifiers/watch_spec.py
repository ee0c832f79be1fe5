"""Watches as users write them: the `[watches.<name>]` tables of the config, validated.

The phrase syntax and the scoring are in classifiers.watches, which needs no pydantic (the
extraction workers score articles and import only that); this module validates a spec and
compiles it there.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
)

from classifiers.watches import (
    PhraseSyntaxError,
    Watch,
    compile_watch,
    parse_expression,
    valid_watch_name,
)

MAX_WEIGHT = 100.0


class WatchConfigError(ValueError):
    """A watches table that cannot be loaded; the message names the watch and field."""


def _valid_phrase(phrase: str) -> str:
    try:
        parse_expression(phrase)
    except PhraseSyntaxError as exc:
        raise ValueError(str(exc)) from None
    return phrase


def _valid_weight(weight: float) -> float:
    if not (math.isfinite(weight) and 0 < weight <= MAX_WEIGHT):
        raise ValueError(f"weight must be > 0 and <= {MAX_WEIGHT:g}, got {weight}")
    return weight


def _valid_exclude_weight(value: object) -> float | Literal["veto"]:
    if value == "veto":
        return "veto"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f'an exclude entry takes a weight or "veto", got {value!r}')
    return _valid_weight(float(value))


def _vetoes_from_list(value: object) -> object:
    # A plain list of exclude phrases means every one of them vetoes.
    return dict.fromkeys(value, "veto") if isinstance(value, list) else value


# A watch's name: the key of its [watches.<name>] table, stored with every match.
WatchName = Annotated[str, AfterValidator(valid_watch_name)]

# Validated per entry, so that an error's location names the phrase at fault (and the config
# loader can point at its line): ("terms", "tra*de", "[key]") rather than just ("terms",).
Phrase = Annotated[str, AfterValidator(_valid_phrase)]
Weight = Annotated[float, AfterValidator(_valid_weight)]
ExcludeWeight = Annotated[float | Literal["veto"], PlainValidator(_valid_exclude_weight)]

# ----------------------------------------------------------------------------- the spec


class WatchSpec(BaseModel):
    """A watch as a user writes it in TOML under ``[watches.<name>]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    description: str = ""
    enabled: bool = True
    # Score an article must reach to match.
    threshold: float = Field(gt=0, allow_inf_nan=False)
    # Phrase -> weight (0 < weight <= 100).
    terms: dict[Phrase, Weight] = Field(min_length=1)
    # If set, some sentence holding a term must also hold one of these phrases.
    context: list[Phrase] = Field(default_factory=list)
    # Phrase -> weight subtracted from the score, or "veto" to reject the article outright.
    # A plain list means every phrase is a veto.
    exclude: Annotated[dict[Phrase, ExcludeWeight], BeforeValidator(_vetoes_from_list)] = Field(
        default_factory=dict
    )
    title_weight: float = Field(default=2.0, ge=0, le=10)
    # Distinct terms that must fire; 2 keeps one recurring word from deciding alone.
    min_terms: int = Field(default=1, ge=1)
    # Weight of the k-th repeat of a term is weight * repeat_decay**k (0 = count once).
    repeat_decay: float = Field(default=0.35, ge=0, lt=1)
    # Multiplier for a term closely preceded by a negation ("no evidence that ...").
    negation_factor: float = Field(default=0.3, ge=0, le=1)
    # Multiplier for a body line that does not end like a sentence (a list of other stories'
    # headlines, a caption, navigation), and for its sentence_cap: a page that only lists an
    # IP-theft headline under "Related" is not an IP-theft story.
    fragment_weight: float = Field(default=0.5, ge=0, le=1)
    # Most one sentence can add to the score (the title: times title_weight), so that one
    # dense passing mention cannot carry an article; None = no cap.
    sentence_cap: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    def exclusions(self) -> dict[str, float | None]:
        """Exclude entries as phrase -> weight, None meaning veto."""
        return {p: (None if w == "veto" else w) for p, w in self.exclude.items()}


def parse_watches(table: Mapping[str, Any]) -> list[Watch]:
    """Compile the ``[watches]`` table (name -> spec fields); errors name watch and field."""
    watches: list[Watch] = []
    for name, raw in table.items():
        if not isinstance(raw, Mapping):
            raise WatchConfigError(f"watches.{name}: expected a table of settings")
        try:
            watches.append(compile_watch(name, WatchSpec.model_validate(raw)))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'] if p != '[key]') or 'watch'}: {err['msg']}"
                for err in exc.errors()
            )
            raise WatchConfigError(f"watches.{name}: {problems}") from None
        except ValueError as exc:
            raise WatchConfigError(f"watches.{name}: {exc}") from None
    return watches


def watches_from_toml(text: str) -> list[Watch]:
    """Load watches from TOML text holding ``[watches.<name>]`` tables."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WatchConfigError(f"invalid TOML: {exc}") from None
    table = data.get("watches")
    if not isinstance(table, dict) or not table:
        raise WatchConfigError("no [watches.<name>] tables found")
    return parse_watches(table)
