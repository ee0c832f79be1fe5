"""Engine and session set-up for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Base
from storage.upgrade import UpgradeError, add_missing_columns


class DatabaseError(RuntimeError):
    """The database cannot be reached or set up; the message says which and why."""


class Database:
    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise DatabaseError(f"invalid database URL: {exc}") from exc
        self.url = url
        self.display_url = parsed.render_as_string(hide_password=True)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Tasks run in threads; each connection is used by one thread at a time.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> list[str]:
        """Create the missing tables, and bring tables made by an earlier version up to the
        models (missing columns and indexes, see storage.upgrade); the columns added."""
        try:
            Base.metadata.create_all(self.engine)
            return add_missing_columns(self.engine, Base.metadata)
        except OperationalError as exc:
            raise DatabaseError(f"cannot open database {self.display_url}: {exc.orig}") from exc
        except UpgradeError as exc:
            raise DatabaseError(f"cannot upgrade database {self.display_url}: {exc}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets `newswatch articles` read while a run writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
