"""The annual evaluation's manual figures: one current value per year and indicator
(the audit log keeps every earlier one, with who changed it)."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shuyu.store.base import Base


class AnnualInputRow(Base):
    __tablename__ = "annual_inputs"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    indicator: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # as entered, validated by the indicator's kind
    note: Mapped[str] = mapped_column(Text, default="")  # the source: survey, report, …
    entered_by: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[str] = mapped_column(String(32))
