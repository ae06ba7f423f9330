"""Masking throughput on a 1,000,000-row enterprise table, against plain Parquet I/O.

The table has 22 columns shaped like the catalogue's enterprise data (credit code,
names, the legal representative's ID, birth date and mobile, address, dates, amounts,
codes) and a policy with the catalogue's kinds of rules (pseudonym, drop, partial mask,
region, date, age band, bucket, clip by value and by quantile, keep) and k-anonymity
over four quasi-identifiers.

- baseline: read the raw Parquet file and write it again (zstd, as masking writes);
- masking: read, check against the catalogue entry, apply every rule, enforce
  k-anonymity, write — what `shuyu data mask` does per table. Every identifier is
  distinct (the worst case for pseudonyms: one HMAC per row).

The residual PII scan `shuyu data mask` runs on its output is `shuyu.data.pii`'s cost
and has its own benchmark; it is timed here for information but is not in the ratio.

Each is run 5 times, interleaved; the best run of each is compared.
Last line: `ratio=X.XX` = masking time / read+write time (goal ≤ 3.0).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shuyu.data.masking import kanon
from shuyu.data.masking.mask import check_raw_columns, mask_table, residual_pii
from shuyu.data.masking.pseudonym import Pseudonymiser
from shuyu.policy.models import Dataset

ROWS = 1_000_000
REPEATS = 5
REFERENCE = dt.date(2026, 6, 30)
COUNTIES = ["341302", "341321", "341322", "341323", "341324", "150602", "150621", "150627"]
KEY = bytes(range(32))


def f(
    id_: str, type_: str, role: str, masking: dict[str, object], pii: str | None = None
) -> dict[str, object]:
    spec: dict[str, object] = {
        "id": id_,
        "name": id_,
        "name_en": id_,
        "type": type_,
        "sensitivity": 2,
        "role": role,
        "masking": masking,
    }
    if pii:
        spec["pii"] = pii
    return spec


DATASET = Dataset.model_validate(
    {
        "id": "enterprise_bench",
        "name": "企业基本信息（基准）",
        "name_en": "Enterprise table (benchmark)",
        "provider": "市市场监管局",
        "plans": [{"plan": "suzhou", "ref": "benchmark"}],
        "grain": "entity",
        "keys": {"enterprise": "uscc"},
        "fields": [
            f(
                "uscc",
                "string",
                "direct_identifier",
                {"rule": "pseudonym", "namespace": "enterprise"},
                "uscc",
            ),
            f(
                "enterprise_name",
                "string",
                "direct_identifier",
                {"rule": "drop"},
                "enterprise_name",
            ),
            f("legal_rep_name", "string", "direct_identifier", {"rule": "drop"}, "person_name"),
            f(
                "legal_rep_id",
                "string",
                "direct_identifier",
                {"rule": "pseudonym", "namespace": "person"},
                "resident_id",
            ),
            f(
                "legal_rep_birth",
                "date",
                "quasi_identifier",
                {"rule": "age_band", "width": 10, "top": 80},
            ),
            f(
                "mobile",
                "string",
                "direct_identifier",
                {"rule": "partial", "keep_prefix": 3, "keep_suffix": 4},
                "mobile",
            ),
            f(
                "address",
                "string",
                "direct_identifier",
                {"rule": "region", "level": "county"},
                "address",
            ),
            f("region_code", "string", "quasi_identifier", {"rule": "region", "level": "county"}),
            f("established_on", "date", "quasi_identifier", {"rule": "date", "to": "year"}),
            f("approved_on", "date", "other", {"rule": "date", "to": "month"}),
            f("updated_at", "datetime", "other", {"rule": "date", "to": "month"}),
            f("industry_code", "string", "quasi_identifier", {"rule": "keep"}),
            f("enterprise_type", "string", "other", {"rule": "keep"}),
            f("status", "string", "other", {"rule": "keep"}),
            f(
                "registered_capital",
                "float",
                "quasi_identifier",
                {"rule": "bucket", "edges": [10, 50, 100, 500, 1000, 5000]},
            ),
            f(
                "paid_in_capital",
                "float",
                "other",
                {"rule": "clip", "lower": 0, "upper_quantile": 0.99},
            ),
            f(
                "total_revenue",
                "float",
                "sensitive_attribute",
                {"rule": "clip", "lower_quantile": 0.01, "upper_quantile": 0.99},
            ),
            f(
                "tax_total",
                "float",
                "sensitive_attribute",
                {"rule": "clip", "lower_quantile": 0.01, "upper_quantile": 0.99},
            ),
            f("employees", "int", "other", {"rule": "clip", "lower": 0, "upper": 5000}),
            f("credit_level", "string", "other", {"rule": "keep"}),
            f("is_high_tech", "bool", "other", {"rule": "keep"}),
            f("business_scope", "string", "other", {"rule": "drop"}),
        ],
    }
)


def _codes(rng: np.random.Generator, prefixes: list[str], alphabet: str, width: int) -> pl.Series:
    """Distinct identifier-shaped strings: a prefix, then `width` characters that
    encode the row number (so every value is distinct) shuffled with random ones."""
    letters = np.frombuffer(alphabet.encode(), dtype=np.uint8)
    body = letters[rng.integers(0, len(letters), size=(ROWS, width))]
    serial = np.frombuffer(b"".join(f"{i:07d}".encode() for i in range(ROWS)), dtype=np.uint8)
    body[:, -7:] = serial.reshape(ROWS, 7)
    prefix = np.array([p.encode() for p in prefixes])[rng.integers(0, len(prefixes), ROWS)]
    joined = np.char.add(prefix, body.view(f"S{width}").ravel())
    return pl.Series(joined).cast(pl.String)


def build_table(rng: np.random.Generator) -> pl.DataFrame:
    day0 = np.datetime64("1990-01-01")
    pick = lambda values, p=None: pl.Series(np.asarray(values)[rng.choice(len(values), ROWS, p=p)])  # noqa: E731
    surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"]
    return pl.DataFrame(
        {
            "uscc": _codes(
                rng, [f"91{c}" for c in COUNTIES], "0123456789ABCDEFGHJKLMNPQRTUWXY", 10
            ),
            "enterprise_name": pl.Series([f"宿州市第{i}商贸有限公司" for i in range(ROWS)]),
            "legal_rep_name": pick([s + g for s in surnames for g in ("伟", "芳", "娜", "强")]),
            "legal_rep_id": _codes(rng, [f"{c}19" for c in COUNTIES], "0123456789", 10),
            "legal_rep_birth": pl.Series(
                day0 - rng.integers(0, 365 * 45, ROWS).astype("timedelta64[D]")
            ),
            "mobile": _codes(rng, ["138", "139", "150", "186", "177"], "0123456789", 8),
            "address": pick(
                [f"安徽省宿州市埇桥区汴河路{i}号" for i in range(500)]
                + [f"内蒙古自治区鄂尔多斯市东胜区天骄路{i}号" for i in range(500)]
            ),
            "region_code": pick(COUNTIES),
            "established_on": pl.Series(
                day0 + rng.integers(0, 365 * 35, ROWS).astype("timedelta64[D]")
            ),
            "approved_on": pl.Series(
                day0 + rng.integers(0, 365 * 35, ROWS).astype("timedelta64[D]")
            ),
            "updated_at": pl.Series(
                np.datetime64("2024-01-01T00:00:00", "us")
                + rng.integers(0, 365 * 86400, ROWS).astype("timedelta64[s]")
            ),
            "industry_code": pick(list("ABCDEFGHIJKLMNOPQRST")),
            "enterprise_type": pick(["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"]),
            "status": pick(["存续", "在业", "吊销", "注销"], p=[0.6, 0.3, 0.05, 0.05]),
            "registered_capital": rng.lognormal(5, 1.5, ROWS),
            "paid_in_capital": rng.lognormal(4, 1.5, ROWS),
            "total_revenue": rng.lognormal(6, 2, ROWS),
            "tax_total": rng.lognormal(3, 2, ROWS),
            "employees": rng.integers(0, 2000, ROWS),
            "credit_level": pick(["A", "B", "C", "D"]),
            "is_high_tech": rng.random(ROWS) < 0.1,
            "business_scope": pick(
                ["批发和零售", "技术开发、技术咨询", "煤炭开采与洗选", "道路货物运输"]
            ),
        }
    ).with_columns(pl.col("updated_at").cast(pl.Datetime("us")))


def read_write(source: Path, target: Path) -> None:
    pl.read_parquet(source).write_parquet(target, compression="zstd")


def mask(source: Path, target: Path) -> pl.DataFrame:
    frame = check_raw_columns(pl.read_parquet(source), DATASET, str(source))
    masked = mask_table(
        frame, DATASET, pseudonymiser=Pseudonymiser(KEY), reference_date=REFERENCE
    ).frame
    result = kanon.enforce({DATASET.id: masked}, {DATASET.id: DATASET}, k_default=5, k_overrides={})
    table = result.tables[DATASET.id]
    table.write_parquet(target, compression="zstd")
    return table


def timed(action: object, *args: object) -> float:
    start = time.perf_counter()
    action(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    rng = np.random.default_rng(20260630)
    with tempfile.TemporaryDirectory(prefix="shuyu-bench-masking-") as tmp:
        raw = Path(tmp) / "raw.parquet"
        build_table(rng).write_parquet(raw, compression="zstd")
        size_mb = raw.stat().st_size / 1e6
        print(f"table: {ROWS:,} rows × {len(DATASET.fields)} columns, {size_mb:.1f} MB Parquet")
        base_times, mask_times = [], []
        for _ in range(REPEATS):
            base_times.append(timed(read_write, raw, Path(tmp) / "copy.parquet"))
            mask_times.append(timed(mask, raw, Path(tmp) / "masked.parquet"))
        # best of N for both, as timeit does: the least disturbed run of each on a
        # shared machine (medians printed alongside)
        baseline, masking = min(base_times), min(mask_times)
        masked = pl.read_parquet(Path(tmp) / "masked.parquet")
        scan = timed(residual_pii, {DATASET.id: masked})
        print(
            f"baseline read+write: {baseline:.2f} s ({ROWS / baseline:,.0f} rows/s; "
            f"median {statistics.median(base_times):.2f} s)"
        )
        print(
            f"masking read+mask+k-anonymity+write: {masking:.2f} s "
            f"({ROWS / masking:,.0f} rows/s; median {statistics.median(mask_times):.2f} s)"
        )
        print(f"rows kept after k-anonymity: {masked.height:,}")
        print(f"residual PII scan of the output (not in the ratio): {scan:.2f} s")
        print(f"ratio={masking / baseline:.2f}")


if __name__ == "__main__":
    main()
