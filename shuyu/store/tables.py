"""Every part's tables, imported once so that the metadata (and Alembic) sees them all."""

from __future__ import annotations

from shuyu.audit import tables as _audit  # noqa: F401 - registers its tables
from shuyu.production import tables as _production  # noqa: F401
from shuyu.products import tables as _products  # noqa: F401
from shuyu.review import tables as _review  # noqa: F401
from shuyu.store.base import Base

metadata = Base.metadata
