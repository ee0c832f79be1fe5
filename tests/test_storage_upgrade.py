"""A database made by an earlier version is brought up to the models by `create_all`.

On a real SQLite file and on PostgreSQL (where NEWSWATCH_TEST_POSTGRES_URL is set): the
tables are first made as an earlier version made them (columns and an index missing),
filled with rows, then opened by the current version.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    select,
)

from storage import repo
from storage.db import Database, DatabaseError
from storage.models import Article, Base, Source, Story
from storage.upgrade import UpgradeError, _add_column, add_missing_columns

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# Columns an earlier version did not have: nullable ones, a constant default, a callable
# default (JSON), and a foreign key with an index.
NEW_COLUMNS = {
    ("sources", "last_error_kind"),
    ("sources", "next_poll_at"),
    ("articles", "features"),
    ("articles", "revisions"),
    ("articles", "event_at"),
    ("stories", "storyline_id"),
}


def earlier_schema() -> MetaData:
    """The current tables without NEW_COLUMNS and without their table-level indexes."""
    old = MetaData()
    for table in Base.metadata.sorted_tables:
        columns = [c._copy() for c in table.columns if (table.name, c.name) not in NEW_COLUMNS]
        Table(table.name, old, *columns)
    return old


@pytest.fixture
def old_database(database_url: str) -> Iterator[str]:
    """A database as the earlier version left it: a source, a story and an article."""
    engine = create_engine(database_url)
    old = earlier_schema()
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(old.tables["sources"]).values(
                name="wire",
                kind="rss",
                url="https://wire.example/feed",
                enabled=True,
                consecutive_failures=2,
                last_error="HTTP 503",
            )
        )
        conn.execute(
            insert(old.tables["stories"]).values(
                id=1,
                headline="Engineer charged",
                watches=["ip_theft"],
                first_seen_at=NOW,
                last_seen_at=NOW,
                article_count=1,
            )
        )
        conn.execute(
            insert(old.tables["articles"]).values(
                canonical_url="https://wire.example/a",
                url="https://wire.example/a",
                source="wire",
                title="Engineer charged",
                fetched_at=NOW,
                stored_at=NOW,
                text="Body.",
                text_hash="h",
                fingerprint=7,
                story_id=1,
            )
        )
    engine.dispose()
    yield database_url


def _columns(engine: Engine, table: str) -> dict[str, bool]:
    return {c["name"]: c["nullable"] for c in inspect(engine).get_columns(table)}


def _indexes(engine: Engine, table: str) -> set[str]:
    return {i["name"] or "" for i in inspect(engine).get_indexes(table)}


def test_an_earlier_database_gets_the_new_columns_and_keeps_its_rows(old_database: str) -> None:
    db = Database(old_database)
    try:
        added = db.create_all()
        assert {tuple(name.split(".")) for name in added} == NEW_COLUMNS
        assert db.create_all() == []  # idempotent: nothing left to add

        for table, column in NEW_COLUMNS:
            assert column in _columns(db.engine, table), (table, column)
        assert "ix_stories_storyline_id" in _indexes(db.engine, "stories")
        assert "ix_article_terms_term_seen" in _indexes(db.engine, "article_terms")
        if not db.is_sqlite:  # PostgreSQL can make a filled column NOT NULL afterwards
            assert _columns(db.engine, "articles")["features"] is False
            assert _columns(db.engine, "articles")["revisions"] is False

        with db.session() as session:
            article = session.scalars(select(Article)).one()
            # existing rows hold what a new row would get by default
            assert (article.features, article.revisions, article.event_at) == ({}, 0, None)
            assert article.title == "Engineer charged" and article.story_id == 1
            story = session.get(Story, 1)
            assert story is not None and story.storyline_id is None
            source = session.scalars(select(Source)).one()
            assert (source.consecutive_failures, source.next_poll_at) == (2, None)
            # and the new columns work through the repository
            repo.record_poll(
                session,
                "wire",
                status="failed",
                polled_at=NOW,
                error="timed out after 30s",
                error_kind="timeout",
                backoff=lambda failures, at: at + timedelta(minutes=15 * failures),
            )
        with db.session() as session:
            source = session.scalars(select(Source)).one()
            assert (source.consecutive_failures, source.last_error_kind) == (3, "timeout")
            assert source.next_poll_at == NOW + timedelta(minutes=45)
    finally:
        db.dispose()


def test_a_fresh_database_needs_no_upgrade(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.create_all() == []
        assert db.create_all() == []
    finally:
        db.dispose()


def _probe(metadata: MetaData, *extra: Column[object]) -> Table:
    return Table(
        "upgrade_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(20)),
        *extra,
    )


@pytest.fixture
def probe_engine(database_url: str) -> Iterator[Engine]:
    """A database with an `upgrade_probe` table of two rows, dropped afterwards."""
    engine = create_engine(database_url)
    old = MetaData()
    _probe(old).create(engine)
    with engine.begin() as conn:
        conn.execute(insert(old.tables["upgrade_probe"]), [{"name": "a"}, {"name": "b"}])
    yield engine
    old.drop_all(engine)
    engine.dispose()


def test_a_required_column_without_default_is_refused_on_a_table_with_rows(
    probe_engine: Engine,
) -> None:
    new = MetaData()
    _probe(new, Column("code", String(10), nullable=False))
    with pytest.raises(UpgradeError, match=r"upgrade_probe\.code .* required and has no default"):
        add_missing_columns(probe_engine, new)
    assert "code" not in _columns(probe_engine, "upgrade_probe")  # nothing half done


def test_a_unique_column_gets_a_unique_index_and_a_server_default_is_used(
    probe_engine: Engine,
) -> None:
    new = MetaData()
    _probe(
        new,
        Column("slug", String(40), unique=True),
        Column("weight", Integer, nullable=False, server_default="5"),
    )
    assert add_missing_columns(probe_engine, new) == ["upgrade_probe.slug", "upgrade_probe.weight"]
    assert "uq_upgrade_probe_slug" in _indexes(probe_engine, "upgrade_probe")
    with probe_engine.connect() as conn:
        weights = conn.execute(select(new.tables["upgrade_probe"].c.weight)).scalars().all()
    assert weights == [5, 5]
    assert add_missing_columns(probe_engine, new) == []


def test_a_column_another_process_added_meanwhile_is_not_an_error(probe_engine: Engine) -> None:
    new = MetaData()
    table = _probe(new, Column("note", String(40)))
    assert _add_column(probe_engine, table, table.c.note) is True
    # a second process that inspected the table before the first added the column
    assert _add_column(probe_engine, table, table.c.note) is False


def test_an_upgrade_that_cannot_be_done_is_a_clear_database_error(old_database: str) -> None:
    engine = create_engine(old_database)
    with engine.begin() as conn:  # an earlier version's row, then a model that needs a value
        conn.exec_driver_sql("ALTER TABLE sources DROP COLUMN kind")
    engine.dispose()
    db = Database(old_database)
    try:
        with pytest.raises(DatabaseError, match=r"cannot upgrade database .*sources\.kind"):
            db.create_all()
    finally:
        db.dispose()
