"""The newsroom's sample articles: plain data loaded from ``articles/*.md``.

Every article is one Markdown file with TOML front matter between ``+++`` lines (Hugo style)::

    +++
    slug = "solvane-engineer-charged-chip-designs"     # [a-z0-9-]+, equal to the file name
    title = "Former Solvane engineer charged with ..."
    author = "Tomas Heller"
    published = 2026-11-03T10:42:00-05:00           # TOML offset date-time (ISO 8601, with zone)
    section = "Courts"
    outlet = "Harbor Tech Journal"
    dateline = "PORT ANSEL, Aldermark"               # optional, shown before the first paragraph
    byline = "By Tomas Heller, Harbor Tech Journal"  # optional, default "By <author>"
    summary = "One or two sentences for feeds and meta description."
    expect = ["ip_theft"]                            # watches the story should match ([] = none)
    story = "solvane-chip-designs"                   # optional storyline key, default: the slug
    syndicated_from = "other-slug"                   # optional: a republished copy (see below)
    note = "Why this article is in the set."         # optional
    +++

    First paragraph, one line or wrapped over several lines.

    Second paragraph.

Paragraphs are separated by blank lines; lines inside a paragraph are joined with a space.
A file with ``syndicated_from`` is a republished copy: its paragraphs are the original's
paragraphs followed by the file's own (e.g. "This story was first published by ...").

``articles/*.md`` are served by default; ``articles/later/*.md`` are held back for tests that
``publish()`` them at runtime (a new development of a story, a brand-new story).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ARTICLES_DIR = Path(__file__).resolve().parent / "articles"
LATER_DIR = ARTICLES_DIR / "later"

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_REQUIRED = ("slug", "title", "author", "published", "section", "outlet")
_OPTIONAL = ("summary", "expect", "dateline", "byline", "story", "syndicated_from", "note")
_TEXT_FIELDS = (
    "slug", "title", "author", "section", "outlet",
    "summary", "dateline", "byline", "story", "syndicated_from", "note",
)  # fmt: skip


class ArticleFormatError(ValueError):
    """An article file (or an article built in code) is malformed."""


@dataclass(frozen=True, slots=True)
class SampleArticle:
    """One article the newsroom serves at ``/articles/<slug>``."""

    slug: str
    title: str
    author: str
    published: datetime
    section: str
    outlet: str
    body: list[str]  # paragraphs, without the dateline
    expect: list[str] = field(default_factory=list)  # watches the story should match
    summary: str = ""
    dateline: str | None = None
    byline: str | None = None
    story: str | None = None
    syndicated_from: str | None = None
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not _SLUG.match(self.slug):
            raise ArticleFormatError(f"{self.slug!r}: slug must match {_SLUG.pattern}")
        if self.published.tzinfo is None or self.published.utcoffset() is None:
            raise ArticleFormatError(f"{self.slug}: published must carry a time zone")
        for name in ("title", "author", "section", "outlet"):
            if not str(getattr(self, name)).strip():
                raise ArticleFormatError(f"{self.slug}: {name} must not be empty")
        # Own copies, so that a caller's list (or tuple) can't change the article afterwards.
        object.__setattr__(self, "body", [str(p) for p in self.body])
        object.__setattr__(self, "expect", [str(w) for w in self.expect])
        if not self.body or any(not p.strip() for p in self.body):
            raise ArticleFormatError(f"{self.slug}: body paragraphs must be non-empty")

    def __hash__(self) -> int:  # the list fields would make the generated hash fail
        return hash((self.slug, self.published))

    @property
    def path(self) -> str:
        """The article's path on the server."""
        return f"/articles/{self.slug}"

    @property
    def story_key(self) -> str:
        """The real-world event this article reports (copies and follow-ups share it)."""
        return self.story or self.slug

    @property
    def byline_text(self) -> str:
        return self.byline or f"By {self.author}"

    @property
    def description(self) -> str:
        """Summary for feeds and meta tags: the summary, else the first paragraph."""
        return self.summary or self.body[0]

    @property
    def text(self) -> str:
        """The body as a reader sees it: the dateline leads the first paragraph."""
        first = f"{self.dateline} — {self.body[0]}" if self.dateline else self.body[0]
        return "\n\n".join((first, *self.body[1:]))

    @property
    def word_count(self) -> int:
        return sum(len(p.split()) for p in self.body)

    @property
    def is_near_miss(self) -> bool:
        """True for stories that should match no watch."""
        return not self.expect

    @property
    def is_syndicated(self) -> bool:
        return self.syndicated_from is not None


@dataclass(frozen=True, slots=True)
class _Parsed:
    fields: dict[str, Any]
    paragraphs: tuple[str, ...]


def _split_front_matter(text: str, source: str) -> tuple[str, str]:
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "+++":
        raise ArticleFormatError(f"{source}: line 1: expected '+++' to open the front matter")
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == "+++":
            return "\n".join(lines[1 : number - 1]), "\n".join(lines[number:])
    raise ArticleFormatError(f"{source}: front matter opened on line 1 is never closed by '+++'")


def _paragraphs(body: str) -> tuple[str, ...]:
    blocks = re.split(r"\n\s*\n", body.strip())
    return tuple(" ".join(line.strip() for line in b.splitlines()) for b in blocks if b.strip())


def _parse(text: str, source: str) -> _Parsed:
    front, body = _split_front_matter(text, source)
    try:
        fields = tomllib.loads(front)
    except tomllib.TOMLDecodeError as exc:
        raise ArticleFormatError(f"{source}: front matter: {exc}") from exc
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise ArticleFormatError(f"{source}: missing field(s): {', '.join(missing)}")
    unknown = sorted(set(fields) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ArticleFormatError(f"{source}: unknown field(s): {', '.join(unknown)}")
    published = fields["published"]
    if isinstance(published, str):
        try:
            published = datetime.fromisoformat(published)
        except ValueError as exc:
            raise ArticleFormatError(f"{source}: published: {exc}") from exc
    if not isinstance(published, datetime):
        raise ArticleFormatError(f"{source}: published must be a date-time with a time zone")
    fields["published"] = published
    expect = fields.get("expect", [])
    if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
        raise ArticleFormatError(f"{source}: expect must be a list of watch names")
    for key in _TEXT_FIELDS:
        if key in fields and not isinstance(fields[key], str):
            raise ArticleFormatError(f"{source}: {key} must be a string")
    paragraphs = _paragraphs(body)
    if not paragraphs:
        raise ArticleFormatError(f"{source}: no body paragraphs after the front matter")
    return _Parsed(fields, paragraphs)


def _build(parsed: _Parsed, originals: Mapping[str, SampleArticle], source: str) -> SampleArticle:
    f = parsed.fields
    paragraphs = parsed.paragraphs
    syndicated_from = f.get("syndicated_from")
    if syndicated_from is not None:
        original = originals.get(syndicated_from)
        if original is None:
            raise ArticleFormatError(f"{source}: syndicated_from {syndicated_from!r} not found")
        paragraphs = (*original.body, *paragraphs)
    try:
        return SampleArticle(
            slug=f["slug"],
            title=f["title"],
            author=f["author"],
            published=f["published"],
            section=f["section"],
            outlet=f["outlet"],
            body=list(paragraphs),
            expect=list(f.get("expect", [])),
            summary=f.get("summary", ""),
            dateline=f.get("dateline"),
            byline=f.get("byline"),
            story=f.get("story"),
            syndicated_from=syndicated_from,
            note=f.get("note", ""),
        )
    except ArticleFormatError as exc:
        raise ArticleFormatError(f"{source}: {exc}") from exc


def parse_article(text: str, *, source: str = "<string>") -> SampleArticle:
    """Parse one stand-alone article file's text (``syndicated_from`` is not resolved here)."""
    return _build(_parse(text, source), {}, source)


def load_articles(
    directory: Path, *, originals: Iterable[SampleArticle] = ()
) -> list[SampleArticle]:
    """Load every ``*.md`` in ``directory`` (not recursive), newest first.

    ``syndicated_from`` may name an article in the same directory or in ``originals``.
    """
    parsed: list[tuple[Path, _Parsed]] = []
    for path in sorted(directory.glob("*.md")):
        item = _parse(path.read_text(encoding="utf-8"), str(path))
        if item.fields["slug"] != path.stem:
            raise ArticleFormatError(f"{path}: slug {item.fields['slug']!r} != file name")
        parsed.append((path, item))
    known: dict[str, SampleArticle] = {a.slug: a for a in originals}
    result: list[SampleArticle] = []
    # Originals first, so that copies can find them.
    for path, item in sorted(parsed, key=lambda pi: "syndicated_from" in pi[1].fields):
        article = _build(item, known, str(path))
        if article.slug in known:
            raise ArticleFormatError(f"{path}: duplicate slug {article.slug!r}")
        known[article.slug] = article
        result.append(article)
    return sort_newest_first(result)


def sort_newest_first(articles: Iterable[SampleArticle]) -> list[SampleArticle]:
    return sorted(articles, key=lambda a: (a.published, a.slug), reverse=True)


def load_sample_articles() -> list[SampleArticle]:
    """The articles the newsroom serves by default, newest first."""
    return load_articles(ARTICLES_DIR)


def load_later_articles() -> list[SampleArticle]:
    """Articles held back for ``Newsroom.publish()`` in tests (newest first)."""
    return load_articles(LATER_DIR, originals=load_sample_articles())
