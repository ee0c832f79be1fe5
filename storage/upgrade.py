"""Bring a database made by an earlier version up to the models: the missing columns and
indexes of existing tables (`create_all` makes missing tables, never changes one).

Generic over every model: a column a model gained is added with ALTER TABLE ADD COLUMN,
nullable at first (SQLite cannot add a NOT NULL column without a constant default), then
filled on the existing rows with the column's default (a constant, or a callable such as
`dict` or `utcnow` called once), and on PostgreSQL made NOT NULL if the model says so.
Its foreign key goes with it (REFERENCES), its index or unique index after it. A required
column with no default cannot be invented for existing rows: that is an `UpgradeError`
naming it, and nothing of that column is changed. Safe to run again and again, and from two
processes at once (a column another process added meanwhile is taken as added).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Column, Engine, MetaData, Table, func, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import Index

log = logging.getLogger(__name__)


class UpgradeError(RuntimeError):
    """A table cannot be brought up to its model without losing or inventing data."""


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add what the models have and the database lacks; the "table.column" names added."""
    # One look at every table's columns and indexes (a query or two, not one per table):
    # this runs at every start, and the database is nearly always up to date.
    with engine.connect() as conn:
        inspector = inspect(conn)
        existing = set(inspector.get_table_names())
        names = [t.name for t in metadata.sorted_tables if t.name in existing]
        columns = inspector.get_multi_columns(filter_names=names)
        indexes = inspector.get_multi_indexes(filter_names=names)
    have_columns = {table: {c["name"] for c in found} for (_, table), found in columns.items()}
    have_indexes = {table: {i["name"] for i in found} for (_, table), found in indexes.items()}
    added: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue  # create_all has just made it, whole
        for column in table.columns:
            if column.name in have_columns.get(table.name, set()):
                continue
            if _add_column(engine, table, column):
                added.append(f"{table.name}.{column.name}")
        for index in table.indexes:
            if index.name not in have_indexes.get(table.name, set()):
                _add_index(engine, table, index)
    if added:
        log.info("database upgraded: added %s", ", ".join(added))
    return added


def _add_column(engine: Engine, table: Table, column: Column[Any]) -> bool:
    """Add one column (see the module docstring); False if another process just did."""
    if column.primary_key:
        raise UpgradeError(f"cannot add primary-key column {table.name}.{column.name}")
    dialect = engine.dialect
    quote = dialect.identifier_preparer.quote
    ddl = (
        f"ALTER TABLE {dialect.identifier_preparer.format_table(table)} "
        f"ADD COLUMN {quote(column.name)} {column.type.compile(dialect=dialect)}"
    )
    # A DDL compiler with no statement only renders pieces: here the DEFAULT clause.
    compiler = dialect.ddl_compiler(dialect, None)  # type: ignore[arg-type]
    server_default = compiler.get_column_default_string(column)
    if server_default is not None:
        ddl += f" DEFAULT {server_default}"
    for key in column.foreign_keys:
        target = key.column
        ddl += f" REFERENCES {quote(target.table.name)} ({quote(target.name)})"
    try:
        with engine.begin() as conn:
            fill = _default_value(column)
            required = fill is _NONE and server_default is None and not column.nullable
            if required and conn.scalar(select(func.count()).select_from(table)):
                raise UpgradeError(
                    f"cannot add column {table.name}.{column.name} to a table with rows: "
                    "it is required and has no default"
                )
            conn.exec_driver_sql(ddl)
            if fill is not _NONE:
                conn.execute(table.update().values({column.name: fill}))
            if not column.nullable and dialect.name == "postgresql":
                conn.exec_driver_sql(
                    f"ALTER TABLE {dialect.identifier_preparer.format_table(table)} "
                    f"ALTER COLUMN {quote(column.name)} SET NOT NULL"
                )
            if column.unique:
                conn.exec_driver_sql(
                    f"CREATE UNIQUE INDEX {quote(f'uq_{table.name}_{column.name}')} "
                    f"ON {dialect.identifier_preparer.format_table(table)} ({quote(column.name)})"
                )
    except DBAPIError:
        with engine.connect() as conn:
            names = {c["name"] for c in inspect(conn).get_columns(table.name)}
        if column.name in names:
            return False  # added by another process meanwhile
        raise
    return True


_NONE = object()  # no default to fill existing rows with


def _default_value(column: Column[Any]) -> Any:
    """The value the column's Python-side default gives a new row, or _NONE."""
    default = column.default
    if default is None or not (default.is_scalar or default.is_callable):
        return _NONE
    if default.is_scalar:
        return default.arg  # type: ignore[attr-defined]
    # SQLAlchemy wraps a no-argument callable as fn(context); ours ignore the context.
    return default.arg(None)  # type: ignore[attr-defined]


def _add_index(engine: Engine, table: Table, index: Index) -> None:
    try:
        with engine.begin() as conn:
            index.create(conn)
    except DBAPIError:
        with engine.connect() as conn:
            if index.name not in {i["name"] for i in inspect(conn).get_indexes(table.name)}:
                raise  # not made by another process meanwhile: a real error
