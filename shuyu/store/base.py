"""The declarative base every part's tables share (one metadata, one migration history)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
