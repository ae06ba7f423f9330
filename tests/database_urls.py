"""The databases the state tests run against: SQLite always; PostgreSQL when a server
is given (`.ci/run` starts Debian's and sets SHUYU_TEST_POSTGRES_URL, and requires it
with SHUYU_REQUIRE_POSTGRES=1 so that CI cannot skip it silently)."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from shuyu.store.database import Database


@contextlib.contextmanager
def postgres_database(base: str) -> Iterator[str]:
    name = f"shuyutest_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    """DROP … WITH (FORCE) terminates the database's sessions, and refuses when one of
    them is an autovacuum worker (a superuser's process): seen once in 1,000 tests; it
    is gone a moment later."""
    for attempt in range(20):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except ProgrammingError:
            if attempt == 19:
                raise
            time.sleep(0.5)


def postgres_base_url() -> str:
    """The PostgreSQL server the tests were given; skipped without one, failed when
    SHUYU_REQUIRE_POSTGRES=1 (CI)."""
    base = os.environ.get("SHUYU_TEST_POSTGRES_URL", "")
    if not base:
        if os.environ.get("SHUYU_REQUIRE_POSTGRES") == "1":
            pytest.fail("SHUYU_TEST_POSTGRES_URL is not set but PostgreSQL is required")
        pytest.skip("no PostgreSQL server given (SHUYU_TEST_POSTGRES_URL)")
    return base


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
        db.upgrade()
        yield db
        db.dispose()
        return
    with postgres_database(postgres_base_url()) as url:
        db = Database(url)
        db.upgrade()
        yield db
        db.dispose()
