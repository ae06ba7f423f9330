"""The databases the state tests run against: SQLite always; PostgreSQL when a server
is given (`.ci/run` starts Debian's and sets SHUYU_TEST_POSTGRES_URL, and requires it
with SHUYU_REQUIRE_POSTGRES=1 so that CI cannot skip it silently)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shuyu.store.database import Database


@contextlib.contextmanager
def _postgres_database(base: str) -> Iterator[str]:
    name = f"shuyutest_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
        db.upgrade()
        yield db
        db.dispose()
        return
    base = os.environ.get("SHUYU_TEST_POSTGRES_URL", "")
    if not base:
        if os.environ.get("SHUYU_REQUIRE_POSTGRES") == "1":
            pytest.fail("SHUYU_TEST_POSTGRES_URL is not set but PostgreSQL is required")
        pytest.skip("no PostgreSQL server given (SHUYU_TEST_POSTGRES_URL)")
    with _postgres_database(base) as url:
        db = Database(url)
        db.upgrade()
        yield db
        db.dispose()
