"""Every part's tables, imported once so that the metadata (and Alembic) sees them all."""

from __future__ import annotations

from shuyu.airlock import tables as _airlock  # noqa: F401 - registers its tables
from shuyu.audit import tables as _audit  # noqa: F401
from shuyu.governance import annual_tables as _annual  # noqa: F401
from shuyu.governance import exit_tables as _exits  # noqa: F401
from shuyu.governance import lifecycle_tables as _lifecycle  # noqa: F401
from shuyu.governance import tables as _governance  # noqa: F401
from shuyu.packages import tables as _packages  # noqa: F401
from shuyu.production import tables as _production  # noqa: F401
from shuyu.products import tables as _products  # noqa: F401
from shuyu.review import tables as _review  # noqa: F401
from shuyu.store.base import Base

metadata = Base.metadata
