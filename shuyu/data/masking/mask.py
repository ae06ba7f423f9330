"""`shuyu data mask`: every raw table of the catalogue to the masked zone, atomically.

Order of work: read and check each raw table against its catalogue entry, apply the
field rules (pseudonyms shared across tables through one `Pseudonymiser`), suppress
entities until k-anonymity holds, scan the whole output for residual personal data,
and only then write the tables and the report into a staged directory that replaces
the output at the very end. Any failure, a residual PII finding included, leaves
nothing behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from shuyu.data import pii
from shuyu.data.field_types import POLARS_TYPES, accepts_dtype
from shuyu.data.masking import kanon
from shuyu.data.masking.pseudonym import Pseudonymiser
from shuyu.data.masking.report import (
    REPORT_JSON,
    REPORT_TEXT,
    DatasetReport,
    FieldReport,
    KAnonymityReport,
    MaskingReport,
    PiiFindingReport,
    render_text,
)
from shuyu.data.masking.rules import BUILDERS, clip_bounds_of, masked_expr
from shuyu.errors import InputError, ShuyuError
from shuyu.fsutil import atomic_write_text, file_sha256, staged_directory
from shuyu.policy.masking_rules import Pseudonym, TopBottomCode
from shuyu.policy.models import Dataset, Policies


@dataclass
class MaskedTable:
    frame: pl.DataFrame
    fields: list[FieldReport]


# ---------------------------------------------------------------- one table


def check_raw_columns(frame: pl.DataFrame, dataset: Dataset, source: str) -> pl.DataFrame:
    """The raw table has exactly the catalogue's fields, of compatible types; returns it
    with every column in its canonical type. Unknown columns are refused rather than
    ignored: an undeclared column has no masking rule."""
    expected = dataset.field_ids
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise InputError(
            source,
            f"missing column(s) {', '.join(missing)} of dataset {dataset.id}",
            hint="the raw table must have exactly the catalogue's field ids as columns",
        )
    extra = [c for c in frame.columns if c not in expected]
    if extra:
        raise InputError(
            source,
            f"column(s) {', '.join(extra)} are not in the catalogue entry of {dataset.id} "
            "and have no masking rule",
            hint=f"declare them in policies/catalogue/{dataset.id}.yaml or remove them",
        )
    for spec in dataset.fields:
        dtype = frame.schema[spec.id]
        if not accepts_dtype(spec.type, dtype):
            raise InputError(
                f"{source}: column {spec.id}",
                f"has type {dtype}, but the catalogue declares {spec.type.value}",
                hint="regenerate the raw data or fix the field's type in the catalogue",
            )
    return frame.select(pl.col(f.id).cast(POLARS_TYPES[f.type]) for f in dataset.fields)


def mask_table(
    frame: pl.DataFrame,
    dataset: Dataset,
    *,
    pseudonymiser: Pseudonymiser,
    reference_date: dt.date,
) -> MaskedTable:
    """Apply every field's rule to a checked raw table (dropped fields disappear)."""
    bounds = clip_bounds_of(
        frame, [(f.id, f.masking) for f in dataset.fields if isinstance(f.masking, TopBottomCode)]
    )
    expressions = {
        f.id: masked_expr(f, pl.col(f.id), reference=reference_date, bounds=bounds.get(f.id))
        .cast(POLARS_TYPES[f.masked_type])
        .alias(f.id)
        for f in dataset.fields
        if f.masking.column == "expression"
    }
    per_value = [
        f.id
        for f in dataset.fields
        if f.id in expressions and BUILDERS[f.masking.rule].per_distinct_value(f.masking)
    ]
    # an estimate decides only how to compute, never what: HyperLogLog is enough
    distinct = frame.select(pl.col(per_value).approx_n_unique()).row(0) if per_value else ()
    few = {c for c, n in zip(per_value, distinct, strict=True) if n * 4 < frame.height}
    pseudonymised = {
        f.id: f.masking.namespace for f in dataset.fields if isinstance(f.masking, Pseudonym)
    }
    columns: dict[str, pl.Series] = {}
    # polars computes each select in parallel, without the GIL: the pseudonyms (the
    # longest part) in one, the other columns in another, while this thread joins the
    # columns masked per distinct value and then turns the pseudonyms' hex into letters
    with ThreadPoolExecutor(max_workers=2) as pool:
        hashed = (
            pool.submit(
                frame.select,
                [pseudonymiser.hex_expr(pl.col(c), ns).alias(c) for c, ns in pseudonymised.items()],
            )
            if pseudonymiser.vectorised and pseudonymised
            else None
        )
        direct = pool.submit(frame.select, [e for c, e in expressions.items() if c not in few])
        if not pseudonymiser.vectorised:
            for c, namespace in pseudonymised.items():
                columns[c] = pseudonymiser.column(frame[c], namespace)
        for column in few:
            columns[column] = _by_distinct_value(frame[column], expressions[column])
        if hashed is not None:
            for hexed in hashed.result().get_columns():
                columns[hexed.name] = pseudonymiser.from_hex(hexed, pseudonymised[hexed.name])
        columns.update({s.name: s for s in direct.result().get_columns()})
    kept = [f.id for f in dataset.fields if f.masking.column != "dropped"]
    fields = [
        FieldReport(
            id=f.id,
            name=f.name,
            rule=f.masking.rule,
            detail=f.masking.describe(bounds.get(f.id)),
            masked_type=None if f.masking.column == "dropped" else f.masked_type.value,
        )
        for f in dataset.fields
    ]
    return MaskedTable(frame=pl.DataFrame([columns[c] for c in kept]), fields=fields)


def _by_distinct_value(values: pl.Series, expression: pl.Expr) -> pl.Series:
    name = values.name
    distinct = values.unique().to_frame(name)
    mapping = distinct.with_columns(expression.alias("_masked"))
    joined = values.to_frame(name).join(
        mapping, on=name, how="left", maintain_order="left", nulls_equal=True
    )
    return joined["_masked"].alias(name)


# ---------------------------------------------------------------- a directory


def raw_tables(raw_dir: Path, policies: Policies) -> dict[str, Path]:
    """`<raw>/<dataset>.parquet` for every catalogue dataset present; every dataset a
    scenario needs must be there, and nothing outside the catalogue may be."""
    if not raw_dir.is_dir():
        raise InputError(
            str(raw_dir), "raw data directory not found", hint="run `shuyu data generate` first"
        )
    found = {p.stem: p for p in sorted(raw_dir.glob("*.parquet"))}
    unknown = sorted(set(found) - set(policies.catalogue))
    if unknown:
        raise InputError(
            str(raw_dir),
            f"{', '.join(u + '.parquet' for u in unknown)} not in the catalogue: "
            "no masking rules are known for it",
            hint="add the dataset to policies/catalogue/ or move the file out",
        )
    missing = [d for d in policies.used_datasets() if d not in found]
    if missing:
        raise InputError(
            str(raw_dir),
            f"missing raw table(s) {', '.join(m + '.parquet' for m in missing)} "
            "that the scenarios need",
            hint="run `shuyu data generate --out DIR` or copy the tables in",
        )
    return {d: found[d] for d in policies.catalogue if d in found}


def mask_directory(
    raw_dir: Path,
    out_dir: Path,
    *,
    policies: Policies,
    key: bytes,
    force: bool = False,
) -> MaskingReport:
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    _check_output(raw_dir, out_dir, force=force)
    sources = raw_tables(raw_dir, policies)
    pseudonymiser = Pseudonymiser(key)
    masked: dict[str, MaskedTable] = {}
    rows_in: dict[str, int] = {}
    for dataset_id, path in sources.items():
        dataset = policies.dataset(dataset_id)
        frame = check_raw_columns(_read(path), dataset, str(path))
        rows_in[dataset_id] = frame.height
        masked[dataset_id] = mask_table(
            frame,
            dataset,
            pseudonymiser=pseudonymiser,
            reference_date=policies.masking.reference_date,
        )
        del frame

    suppression = kanon.enforce(
        {d: m.frame for d, m in masked.items()},
        policies.catalogue,
        k_default=policies.masking.k_anonymity,
        k_overrides=policies.masking.k_overrides,
    )
    findings = residual_pii(suppression.tables)
    if findings:
        shown = "; ".join(
            f"{f.dataset}.{f.column}: {f.count} × {f.kind} (e.g. {f.example_masked})"
            for f in findings[:5]
        )
        raise ShuyuError(
            f"residual personal data in the masked output (脱敏结果仍含个人信息): {shown}; "
            "nothing was written — fix the catalogue's masking rule for these columns"
        )

    with staged_directory(out_dir) as staging:
        reports = []
        for dataset_id, table in suppression.tables.items():
            dataset = policies.dataset(dataset_id)
            target = staging / f"{dataset_id}.parquet"
            table.write_parquet(target, compression="zstd")
            result = suppression.results.get(dataset_id)
            reports.append(
                DatasetReport(
                    id=dataset_id,
                    name=dataset.name,
                    provider=dataset.provider,
                    file=target.name,
                    rows_in=rows_in[dataset_id],
                    rows_out=table.height,
                    sha256=file_sha256(target),
                    fields=masked[dataset_id].fields,
                    k_anonymity=None
                    if result is None
                    else KAnonymityReport(
                        k=result.k,
                        entity=result.entity,
                        quasi_identifiers=result.quasi_identifiers,
                        entities_in=result.entities_in,
                        classes=result.classes,
                        achieved_k=result.achieved_k,
                        suppressed_cells=result.suppressed_cells,
                        suppressed_entities=result.suppressed_entities,
                        rows_removed=result.rows_removed,
                    ),
                )
            )
        report = MaskingReport(
            created_at=dt.datetime.now(dt.UTC),
            reference_date=policies.masking.reference_date,
            k_anonymity=policies.masking.k_anonymity,
            k_overrides=dict(policies.masking.k_overrides),
            suppressed_entities={
                kind.value: len(ids) for kind, ids in suppression.suppressed.items() if ids
            },
            datasets=reports,
            pii_findings=[],
            masked_digest=masked_digest({r.id: r.sha256 for r in reports}),
        )
        atomic_write_text(staging / REPORT_JSON, report.to_json())
        atomic_write_text(staging / REPORT_TEXT, render_text(report))
    return report


def residual_pii(tables: dict[str, pl.DataFrame]) -> list[PiiFindingReport]:
    """Every text and integer cell of every masked table through the PII detectors.

    The distinct cells of the whole output are scanned at once (a scan costs about the
    same for ten cells as for ten thousand); only when something is found are the
    tables, then the columns of the tables concerned, scanned to say where and how
    often."""
    if not _has_pii(list(tables.values())):
        return []
    return [
        PiiFindingReport(
            dataset=dataset_id,
            column=f.column or "",
            kind=str(f.kind),
            count=f.count,
            example_masked=f.example_masked,
        )
        for dataset_id, table in tables.items()
        if _has_pii([table])
        for f in pii.scan_frame(table)
    ]


def _has_pii(tables: list[pl.DataFrame]) -> bool:
    cells = [
        table[name].cast(pl.String).drop_nulls().unique()
        for table in tables
        for name, dtype in table.schema.items()
        if dtype == pl.String or dtype.is_integer()
    ]
    if not cells:
        return False
    return bool(pii.scan_frame(pl.concat(cells).unique().to_frame("cell")))


def masked_digest(digests: dict[str, str]) -> str:
    """One digest for a set of masked files, independent of the order they were read."""
    lines = "".join(f"{d} {digests[d]}\n" for d in sorted(digests))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _read(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # polars raises several kinds for a bad file
        raise InputError(
            str(path),
            f"not a readable Parquet file: {exc}".replace("\n", " ")[:300],
            hint="regenerate it with `shuyu data generate`",
        ) from None


def _check_output(raw_dir: Path, out_dir: Path, *, force: bool) -> None:
    raw, out = raw_dir.resolve(), out_dir.resolve()
    if out == raw or raw in out.parents or out in raw.parents:
        raise InputError(
            str(out_dir),
            "the masked output may not be inside (or contain) the raw directory",
            hint="choose a separate directory for the masked zone",
        )
    if out.exists() and not force and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            str(out_dir),
            "output exists and is not empty (输出目录非空)",
            hint="pass --force to replace it",
        )
