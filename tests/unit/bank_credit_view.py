"""A bank-credit-shaped authorised view from nothing but a seed, for unit tests that
need a view in a second rather than the real pipeline (`shuyu.data.pipeline`) in a minute.

Same manifest structure and the bank_credit scenario's feature names and types; the
label depends on a handful of features (with an interaction), so that a model can
learn something and a trivial one cannot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from shuyu.data.view_manifest import (
    HOLDOUT_FILE,
    MANIFEST_FILE,
    PARQUET_METADATA_KEY,
    TRAIN_FILE,
    ViewColumn,
    ViewLabel,
    ViewManifest,
)
from shuyu.fsutil import atomic_write_text, staged_directory
from shuyu.policy.models import DPBudget

# (name, type) of the bank_credit scenario's view, in order (policies/scenarios/bank_credit.yaml)
BANK_CREDIT_FEATURES: list[tuple[str, str]] = [
    ("established_year", "int"),
    ("registration_status", "string"),
    ("enterprise_type", "string"),
    ("industry_code", "string"),
    ("registered_capital_band", "string"),
    ("paid_in_capital", "float"),
    ("county", "string"),
    ("total_assets", "float"),
    ("total_liabilities", "float"),
    ("total_revenue", "float"),
    ("net_profit", "float"),
    ("tax_total", "float"),
    ("bank_loans", "float"),
    ("vat_total", "float"),
    ("invoice_monthly_mean", "float"),
    ("tax_arrears_total", "float"),
    ("tax_violation", "bool"),
    ("insured_employees_band", "string"),
    ("social_insurance_status", "string"),
    ("social_insurance_arrears_months", "int"),
    ("social_insurance_unpaid_months", "int"),
    ("housing_fund_depositors", "int"),
    ("housing_fund_status", "string"),
    ("court_cases", "int"),
    ("dishonest_debtor", "bool"),
    ("under_enforcement", "bool"),
    ("enforced_amount", "float"),
    ("blacklist_entries", "int"),
    ("credit_level", "string"),
    ("major_risk", "bool"),
    ("high_tech", "bool"),
    ("specialised", "bool"),
    ("utility_in_arrears", "bool"),
    ("utility_defaults_2y", "int"),
]
LABEL = "default_12m"


def _frame(rows: int, rng: np.random.Generator) -> pl.DataFrame:
    def pick(values: list[str], p: list[float] | None = None) -> np.ndarray:
        return rng.choice(np.array(values), size=rows, p=p)

    size = rng.lognormal(6, 1.5, rows)  # 万元
    leverage = rng.beta(2, 3, rows) * 1.6
    margin = rng.normal(0.04, 0.08, rows)
    arrears = rng.poisson(0.3, rows)
    cases = rng.poisson(0.25, rows)
    credit = pick(["A", "B", "C", "D"], [0.35, 0.4, 0.18, 0.07])
    dishonest = rng.random(rows) < 0.03 + 0.05 * (cases > 0)
    utility_defaults = rng.poisson(0.2, rows)
    columns: dict[str, object] = {
        "established_year": rng.integers(1990, 2026, rows),
        "registration_status": pick(["存续", "在业", "吊销", "注销"], [0.6, 0.3, 0.06, 0.04]),
        "enterprise_type": pick(["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"]),
        "industry_code": pick([chr(ord("A") + i) for i in range(20)]),
        "registered_capital_band": pick(
            ["<10", "10-50", "50-100", "100-500", "500-1000", ">=1000"]
        ),
        "paid_in_capital": size * rng.uniform(0.1, 1.0, rows),
        "county": pick([f"3213{i:02d}" for i in range(1, 8)]),
        "total_assets": size,
        "total_liabilities": size * leverage,
        "total_revenue": size * rng.uniform(0.3, 2.0, rows),
        "net_profit": size * margin,
        "tax_total": size * rng.uniform(0.0, 0.05, rows),
        "bank_loans": size * leverage * rng.uniform(0, 0.6, rows),
        "vat_total": size * rng.uniform(0.0, 0.08, rows),
        "invoice_monthly_mean": size * rng.uniform(0.01, 0.2, rows),
        "tax_arrears_total": np.where(
            rng.random(rows) < 0.1, size * rng.uniform(0, 0.1, rows), 0.0
        ),
        "tax_violation": rng.random(rows) < 0.05,
        "insured_employees_band": pick(["0", "1-9", "10-49", "50-249", "250+"]),
        "social_insurance_status": pick(["正常", "欠缴", "停保"], [0.85, 0.1, 0.05]),
        "social_insurance_arrears_months": arrears,
        "social_insurance_unpaid_months": arrears + rng.poisson(0.2, rows),
        "housing_fund_depositors": rng.poisson(8, rows),
        "housing_fund_status": pick(["正常", "封存", "未缴存"], [0.7, 0.1, 0.2]),
        "court_cases": cases,
        "dishonest_debtor": dishonest,
        "under_enforcement": rng.random(rows) < 0.04,
        "enforced_amount": np.where(cases > 0, rng.lognormal(3, 1, rows), 0.0),
        "blacklist_entries": rng.poisson(0.05, rows),
        "credit_level": credit,
        "major_risk": rng.random(rows) < 0.03,
        "high_tech": rng.random(rows) < 0.15,
        "specialised": rng.random(rows) < 0.08,
        "utility_in_arrears": utility_defaults > 0,
        "utility_defaults_2y": utility_defaults,
    }
    credit_risk = np.select([credit == "C", credit == "D"], [0.8, 1.6], 0.0)
    logit = (
        -3.2
        + 1.8 * np.maximum(leverage - 0.9, 0)
        - 6.0 * margin
        + 0.5 * arrears
        + 0.4 * cases
        + 1.2 * dishonest
        + credit_risk
        + 0.5 * utility_defaults
        + 0.8 * (leverage > 1.0) * (margin < 0)  # an interaction a linear model misses
    )
    columns[LABEL] = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pl.DataFrame(columns)


def _write_parquet(frame: pl.DataFrame, path: Path, manifest_json: str) -> str:
    table = frame.to_arrow()
    table = table.replace_schema_metadata({PARQUET_METADATA_KEY: manifest_json.encode()})
    pq.write_table(table, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bank_credit_view(
    directory: Path,
    *,
    train_rows: int = 5000,
    holdout_rows: int = 1000,
    seed: int = 0,
    dp: DPBudget | None = None,
    scenario: str = "bank_credit",
) -> ViewManifest:
    """Write `directory/{train,holdout}.parquet` and `view.json` like the real views."""
    rng = np.random.default_rng(seed)
    frame = _frame(train_rows + holdout_rows, rng)
    entity = pl.Series("entity_id", [f"e{seed}-{i:08d}" for i in range(frame.height)])
    frame = frame.insert_column(0, entity)
    features = [
        ViewColumn(name=name, type=kind, dataset="synthetic", field=name)
        for name, kind in BANK_CREDIT_FEATURES
    ]
    label = ViewLabel(
        name=LABEL, type="bool", dataset="synthetic", field=LABEL, task="classification"
    )
    draft = {
        "scenario": scenario,
        "entity": "enterprise",
        "features": features,
        "label": label,
        "dp": dp or DPBudget(epsilon=3.0, delta=1e-5),
        "train_rows": train_rows,
        "holdout_rows": holdout_rows,
        "masked_digest": hashlib.sha256(f"synthetic-{seed}".encode()).hexdigest(),
        "created_at": dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
    }
    with staged_directory(Path(directory)) as staging:
        partial = ViewManifest(**draft, train_sha256="", holdout_sha256="").to_json()
        train_sha = _write_parquet(frame.head(train_rows), staging / TRAIN_FILE, partial)
        holdout_sha = _write_parquet(frame.tail(holdout_rows), staging / HOLDOUT_FILE, partial)
        manifest = ViewManifest(**draft, train_sha256=train_sha, holdout_sha256=holdout_sha)
        atomic_write_text(staging / MANIFEST_FILE, manifest.to_json())
    return manifest
