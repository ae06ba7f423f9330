"""The candidate rows of a whole submission, numbered one after another so that one
match against the row fingerprints covers them all, and the reproductions found mapped
back to the places (file, tensor, parameter …) and rows they came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from shuyu.selfcheck.extracted import Rows
from shuyu.selfcheck.fingerprints import Reproduction
from shuyu.selfcheck.result import Evidence


@dataclass(frozen=True)
class RowSet:
    """All candidate rows of a submission, numbered one after another."""

    pieces: list[Rows]
    offsets: np.ndarray  # first global row of each piece
    frame: pl.DataFrame  # row (global), value (raw text)

    @classmethod
    def of(cls, pieces: list[Rows]) -> RowSet:
        pieces = [p for p in pieces if len(p.value)]
        sizes = [int(p.row.max()) + 1 for p in pieces]
        offsets = np.cumsum([0, *sizes])[:-1].astype(np.int64)
        rows = [p.row.astype(np.int64) + o for p, o in zip(pieces, offsets, strict=True)]
        frame = pl.DataFrame(
            {
                "row": pl.Series(np.concatenate(rows) if rows else [], dtype=pl.UInt32),
                "value": pl.Series([v for p in pieces for v in p.value], dtype=pl.String),
            }
        )
        return cls(pieces, offsets, frame)

    def evidence(self, found: list[Reproduction], min_fields: int) -> list[Evidence]:
        by_piece: dict[int, list[Reproduction]] = {}
        for hit in found:
            index = int(np.searchsorted(self.offsets, hit.row, side="right")) - 1
            by_piece.setdefault(index, []).append(hit)
        evidence = []
        for index, hits in sorted(by_piece.items()):
            piece = self.pieces[index]
            rows = sorted({h.row - int(self.offsets[index]) for h in hits})
            records = len({(h.table, h.record) for h in hits})
            tables = sorted({h.table for h in hits})
            shown = ", ".join(piece.label(i) for i in rows[:5])
            more = f" (+{len(rows) - 5})" if len(rows) > 5 else ""
            evidence.append(
                Evidence(
                    what_zh=f"{len(rows)} 行重现了 {'、'.join(tables)} 的 {records} 条记录",
                    what_en=f"{len(rows)} rows reproduce {records} records of {', '.join(tables)}",
                    value=f"≥ {min_fields} fields",
                    where=f"{piece.where}: {shown}{more}",
                )
            )
        return evidence
