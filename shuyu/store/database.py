"""One database, chosen by URL, as MLflow chooses its stores.

`sqlite:///path` (the default: a file in the platform's state folder, shared by the
services that write the audit log) or `postgresql+psycopg://…`. SQLite runs in WAL mode
with a busy timeout, so that several processes (hub, MLflow, the service) append safely;
writers that must serialise (the audit chain) take `write_lock()`, which is
`BEGIN IMMEDIATE` on SQLite and a transaction-scoped advisory lock on PostgreSQL.
Migrations are Alembic's, applied by `upgrade()` at a service's start.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from shuyu.errors import ShuyuError

MIGRATIONS = Path(__file__).parent / "migrations"
_ADVISORY_KEYS = {"audit": 0x5368_7579}  # "Shuy"


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = _engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error.

        `write=True` takes SQLite's write lock when the transaction begins (`BEGIN
        IMMEDIATE`, waiting up to the busy timeout): a deferred transaction that reads
        and then writes fails at its first write, without waiting, whenever another
        connection committed in between (WAL's stale snapshot) — the audit writer
        commits every few milliseconds. PostgreSQL needs nothing of the kind."""
        if not (write and self.is_sqlite):
            with self._sessions() as session, session.begin():
                yield session
            return
        with (
            self.engine.connect().execution_options(sqlite_immediate=True) as connection,
            connection.begin(),
            self._sessions(bind=connection) as session,
        ):
            yield session
            session.flush()

    @contextlib.contextmanager
    def write_lock(self, name: str) -> Iterator[Connection]:
        """A transaction (a core connection) that holds the named write lock until it
        ends: committed on success, rolled back on any error."""
        with (
            self.engine.connect().execution_options(sqlite_immediate=True) as connection,
            connection.begin(),
        ):
            if not self.is_sqlite:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEYS[name]}
                )
            yield connection

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        from alembic import command  # noqa: PLC0415 - only services that own the schema
        from alembic.config import Config  # noqa: PLC0415

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def _engine(url: str, *, echo: bool) -> Engine:
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    elif not url.startswith("postgresql"):
        raise ShuyuError(
            f"database URL {url.split(':', 1)[0]}:…: only sqlite:/// and postgresql:// are "
            "supported"
        )
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # autocommit at the driver: transactions are begun explicitly (BEGIN IMMEDIATE)
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # the driver's own transaction handling is off (above): begin here, and
            # IMMEDIATE when the caller serialises writers (the audit chain)
            immediate = connection.get_execution_options().get("sqlite_immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


_shared: dict[str, Database] = {}
_shared_lock = threading.Lock()


def shared_database(url: str) -> Database:
    """One engine per URL for the life of the process: the hub's readings (freezes, the
    sandbox's package set), which must not open a new pool at every spawn."""
    with _shared_lock:
        db = _shared.get(url)
        if db is None:
            db = _shared[url] = Database(url)
        return db
