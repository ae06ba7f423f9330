"""The platform's state: one database chosen by URL (SQLite by default, PostgreSQL by
URL), SQLAlchemy 2 tables owned by the parts that use them, Alembic migrations."""
