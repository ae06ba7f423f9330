"""Alembic's environment for shuyu's one database: run with the connection the caller
(`Database.upgrade`) opened, against the metadata of every part's tables."""

from __future__ import annotations

from alembic import context

from shuyu.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand with sqlalchemy.url set
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
)
with context.begin_transaction():
    context.run_migrations()
