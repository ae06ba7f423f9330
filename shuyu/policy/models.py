"""Typed policies: the data catalogue, partners, scenarios, self-check thresholds and
the review chain, modelled on the 宿州 and 鄂尔多斯 authorised-operation plans.

The YAML files under `policies/` are parsed into these models; `shuyu.policy.load`
adds the checks that span files (every scenario field exists in the catalogue, every
partner exists, dates are valid).
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum, StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from shuyu.policy.aggregations import Aggregation
from shuyu.policy.base import FieldType, SnakeId, Strict
from shuyu.policy.masking_rules import MaskingRule

Username = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]


class Sensitivity(IntEnum):
    """Data grade of a field (公共数据分类分级)."""

    public = 1  # 一级 公开
    internal = 2  # 二级 内部
    sensitive = 3  # 三级 敏感
    highly_sensitive = 4  # 四级 高度敏感


class Role(StrEnum):
    """What a field is for a re-identification attacker."""

    direct_identifier = "direct_identifier"  # 直接标识符: names a person or enterprise alone
    quasi_identifier = "quasi_identifier"  # 准标识符: identifies in combination
    sensitive_attribute = "sensitive_attribute"  # 敏感属性: what must not be learnt about someone
    other = "other"


class PiiKind(StrEnum):
    """Kinds of identifier values: drives the synthetic generator and the PII scans."""

    resident_id = "resident_id"  # 居民身份证号 (GB 11643)
    uscc = "uscc"  # 统一社会信用代码 (GB 32100)
    mobile = "mobile"
    bank_card = "bank_card"
    email = "email"
    plate = "plate"
    person_name = "person_name"
    enterprise_name = "enterprise_name"
    address = "address"
    vin = "vin"


class EntityKind(StrEnum):
    """What a row of an authorised view is about; tables join on these keys."""

    enterprise = "enterprise"
    person = "person"
    vehicle = "vehicle"
    coal_mine = "coal_mine"


# ---------------------------------------------------------------- catalogue


class PlanRef(Strict):
    """Where a dataset or scenario comes from in the seed plans."""

    plan: Literal["suzhou", "ordos"]
    ref: str = Field(min_length=1)  # e.g. "附件2 #26" or "附件1 银行信贷场景"


class FieldSpec(Strict):
    id: SnakeId
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    type: FieldType
    sensitivity: Sensitivity
    role: Role
    masking: MaskingRule
    pii: PiiKind | None = None

    @model_validator(mode="after")
    def _masking_fits(self) -> FieldSpec:
        allowed = type(self.masking).accepts
        if self.type not in allowed:
            kinds = ", ".join(sorted(t.value for t in allowed))
            raise ValueError(
                f"masking rule {self.masking.rule!r} needs a field of type {kinds}, "
                f"not {self.type.value}"
            )
        if self.role is Role.direct_identifier and self.masking.rule == "keep":
            raise ValueError("a direct identifier cannot be kept: use drop, pseudonym or partial")
        if self.sensitivity is Sensitivity.highly_sensitive and self.masking.rule == "keep":
            raise ValueError("a grade-4 field cannot be kept: generalise, pseudonymise or drop it")
        if self.pii is not None and self.masking.rule == "keep":
            raise ValueError(f"a {self.pii.value} value cannot be kept in the masked zone")
        return self

    @property
    def masked_type(self) -> FieldType:
        """The type of the field's column in the masked zone: the contract between
        masking and views (meaningless for a dropped field)."""
        return self.masking.masked_type(self.type)


class Dataset(Strict):
    id: SnakeId
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    provider: str = Field(min_length=1)  # 数据提供单位, e.g. 市市场监管局
    # partner: the partner's own data, brought into the domain and fused there
    origin: Literal["public", "partner"] = "public"
    plans: list[PlanRef] = Field(min_length=1)
    description: str = ""
    update_frequency: str = "实时"
    grain: Literal["entity", "event", "statistic"]  # statistic: published aggregates, no entity
    # entity kind -> key field (none for statistics)
    keys: dict[EntityKind, SnakeId] = Field(default_factory=dict)
    fields: list[FieldSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _fields_consistent(self) -> Dataset:
        ids = [f.id for f in self.fields]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate field ids: {', '.join(dupes)}")
        by_id = {f.id: f for f in self.fields}
        if (self.grain == "statistic") == bool(self.keys):
            raise ValueError("statistic datasets have no keys; entity and event datasets need one")
        for kind, key in self.keys.items():
            if key not in by_id:
                raise ValueError(f"key for {kind.value} names unknown field {key!r}")
            if by_id[key].masking.rule != "pseudonym":
                raise ValueError(
                    f"key field {key!r} must be pseudonymised so that joins work after masking"
                )
        return self

    def field(self, field_id: str) -> FieldSpec:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    @property
    def field_ids(self) -> list[str]:
        return [f.id for f in self.fields]

    @property
    def quasi_identifiers(self) -> list[str]:
        return [
            f.id
            for f in self.fields
            if f.role is Role.quasi_identifier and f.masking.rule != "drop"
        ]


# ---------------------------------------------------------------- partners


class PartnerUser(Strict):
    username: Username
    name: str = Field(min_length=1)


class Partner(Strict):
    """An authorised organisation (合伙人 or 使用单位) and its named users."""

    id: SnakeId
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    kind: Literal["bank", "insurer", "operator", "public_body", "enterprise"]
    users: list[PartnerUser] = Field(min_length=1)


class StaffUser(Strict):
    """A platform account that is not a partner: reviewers, operators, administrators."""

    username: Username
    name: str = Field(min_length=1)
    groups: list[SnakeId] = Field(min_length=1)


class PartnersFile(Strict):
    partners: list[Partner]
    staff: list[StaffUser] = Field(default_factory=list)


# ---------------------------------------------------------------- scenarios


class DPBudget(Strict):
    """The (ε, δ) a model trained on the scenario's view may spend in total."""

    epsilon: float = Field(gt=0, le=20)
    delta: float = Field(gt=0, lt=1e-2)
    accept_claimed: bool | None = None
    """Whether an ε claimed by the partner's own training code may pass the self-check
    (the empirical audit still runs). Unset: yes, unless the scenario's rows are about
    people (health and medical insurance), where only certified training passes."""


class MembershipInferenceLimits(Strict):
    """Upper bounds on a membership-inference attack (members = train, non-members =
    holdout): overall AUC, and TPR at a low FPR, where attacks that matter live."""

    max_auc: float = Field(gt=0.5, le=1)
    max_tpr_at_low_fpr: float = Field(gt=0, le=1)
    low_fpr: float = Field(default=0.01, gt=0, lt=0.5)


class OutputRules(Strict):
    """What may leave the domain from production runs of this scenario."""

    min_cell_count: int = Field(default=10, ge=1)
    dominance_n: int = Field(default=2, ge=1)  # (n, k) dominance: top n contributors ...
    dominance_k: float = Field(default=0.85, gt=0, le=1)  # ... may not exceed k of a cell total
    max_rows: int | None = Field(default=None, ge=1)
    kinds: list[Literal["scores", "aggregates", "charts", "reports"]] = Field(min_length=1)


class Condition(Strict):
    """Keep only rows whose (masked) `field` is one of `values`, e.g. 医疗类别 = 住院."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: SnakeId
    values: list[str | int | bool] = Field(alias="in", min_length=1)


class Feature(Strict):
    """One column of the authorised view: a field, aggregated per entity when the
    dataset has many rows per entity (optionally over the rows matching `where`)."""

    name: SnakeId
    dataset: SnakeId
    field: SnakeId
    agg: Aggregation | None = None
    where: Condition | None = None

    @model_validator(mode="after")
    def _where_needs_agg(self) -> Feature:
        if self.where is not None and self.agg is None:
            raise ValueError("a `where` filter needs an agg")
        return self


class Label(Feature):
    task: Literal["classification", "regression"]


class ReviewLevel(Strict):
    id: SnakeId
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    group: SnakeId  # the JupyterHub group whose members review at this level
    min_approvals: int = Field(default=1, ge=1)


class FilingTerms(Strict):
    """What a product's filing (登记备案) states beside the records the platform keeps:
    its application (应用场景), scope and manner of use (使用范围及方式) and pricing basis
    (定价依据), in Chinese and English (宿州方案 ⑥登记备案)."""

    application: str = Field(min_length=1)
    application_en: str = Field(min_length=1)
    scope: str = Field(min_length=1)
    scope_en: str = Field(min_length=1)
    pricing_basis: str = Field(min_length=1)
    pricing_basis_en: str = Field(min_length=1)


class Scenario(Strict):
    id: SnakeId
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    plans: list[PlanRef] = Field(min_length=1)
    purpose: str = Field(min_length=1)
    purpose_en: str = Field(min_length=1)
    # 公共治理/公益服务 (free) or 产业发展/行业发展 (paid, capped price)
    category: Literal["public_governance", "industry_development"]
    partners: list[SnakeId] = Field(min_length=1)
    granted_on: dt.date
    valid_until: dt.date | None = None  # defaults to three years from the grant
    entity: EntityKind
    spine: SnakeId  # the dataset whose rows define the view's entities
    datasets: dict[SnakeId, list[SnakeId]] = Field(min_length=1)  # minimum necessary fields
    features: list[Feature] = Field(min_length=1)
    label: Label
    dp: DPBudget
    membership_inference: MembershipInferenceLimits
    output: OutputRules
    holdout_fraction: float = Field(default=0.2, gt=0, lt=0.5)
    review_chain: list[ReviewLevel] | None = None  # None: the default chain
    filing: FilingTerms | None = None  # None: the scenario's products cannot be filed yet

    @model_validator(mode="after")
    def _dates_and_names(self) -> Scenario:
        limit = _add_years(self.granted_on, 3)
        if self.valid_until is not None:
            if self.valid_until <= self.granted_on:
                raise ValueError("valid_until must be after granted_on")
            if self.valid_until > limit:
                raise ValueError(
                    f"valid_until {self.valid_until} exceeds the 3-year authorisation "
                    f"period ending {limit}"
                )
        names = [f.name for f in self.features] + [self.label.name]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate view column names: {', '.join(dupes)}")
        return self

    @property
    def expires_on(self) -> dt.date:
        return self.valid_until or _add_years(self.granted_on, 3)

    def is_valid_on(self, day: dt.date) -> bool:
        return self.granted_on <= day <= self.expires_on

    @property
    def free(self) -> bool:
        """Public governance and public service products are free (定价程序)."""
        return self.category == "public_governance"

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def accepts_claimed_dp(self) -> bool:
        if self.dp.accept_claimed is not None:
            return self.dp.accept_claimed
        return self.entity is not EntityKind.person


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# ---------------------------------------------------------------- platform-wide policies


class MaskingPolicy(Strict):
    k_anonymity: int = Field(default=5, ge=2)
    reference_date: dt.date  # ages and age bands are computed at this date
    k_overrides: dict[SnakeId, int] = Field(default_factory=dict)  # dataset id -> k


class SelfCheckThresholds(Strict):
    """Defaults for the automated security self-check (安全自查)."""

    max_pii_findings: int = Field(default=0, ge=0)
    max_verbatim_records: int = Field(default=0, ge=0)
    row_fingerprint_min_fields: int = Field(default=4, ge=2)
    allowed_model_formats: list[Literal["onnx"]] = Field(default=["onnx"])
    forbidden_notebook_modules: list[str] = Field(min_length=1)
    forbidden_notebook_calls: list[str] = Field(min_length=1)
    membership_inference: MembershipInferenceLimits
    scan_max_file_bytes: int = Field(default=64 << 20, ge=1024)
    """Files larger than this are not read whole by the scans: they fail the check."""
    archive_max_members: int = Field(default=2000, ge=1)
    archive_max_bytes: int = Field(default=256 << 20, ge=1024)
    """An archive among the artifacts is unpacked (in memory) up to these limits; beyond
    them it fails rather than be skipped."""
    model_max_bytes: int = Field(default=200 << 20, ge=1024)
    onnx_domains: list[str] = Field(default=["", "ai.onnx", "ai.onnx.ml"])
    """Operator domains a model may use: the standard opsets only, no custom operators."""
    attack_reference_models: int = Field(default=8, ge=2, le=64)
    """Reference models the calibrated membership attack trains on the holdout."""
    attack_min_non_members: int = Field(default=1000, ge=100)
    """Non-members the attack needs for TPR at 0.1 % FPR to rest on one in a thousand;
    fewer: that figure is reported as not estimable (a warning)."""
    attack_confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """Confidence of the intervals behind the empirical ε lower bound."""


class PackagePolicy(Strict):
    """What the in-domain package index takes (a request's wheels, fetched on the host)."""

    max_wheel_bytes: int = Field(default=64 << 20, ge=1 << 10)
    """Largest single wheel."""

    max_request_bytes: int = Field(default=256 << 20, ge=1 << 10)
    """Every wheel of one request together (the package and what it needs)."""

    denylist: list[str] = Field(default_factory=list)
    """Names never taken (PEP 503 normalised when compared): known malicious packages,
    typosquats of common ones, tools that tunnel or exfiltrate."""

    per_scenario: bool = False
    """Keep approved sets per scenario: a package approved on a request for one scenario
    is installable in that scenario's sandboxes and production runs only. Off, every
    approved package is in the one set all sandboxes see. Switching it does not move
    what was published: a package published to the other kind of set is asked for
    again."""


class AirlockPolicy(Strict):
    """What the import airlock takes from a partner."""

    max_bytes: int = Field(default=16 << 20, ge=1 << 10)
    """Largest file (code, notebook or table)."""

    code_suffixes: list[str] = Field(default=[".py", ".r", ".sql", ".md", ".txt", ".ipynb"])
    table_suffixes: list[str] = Field(default=[".csv", ".parquet"])

    key_column: SnakeId = "uscc"
    """The column a table of the partner's own data is keyed by (real identifiers: the
    host pseudonymises them with the masking key to join the partner's view)."""

    min_rows: int = Field(default=50, ge=1)
    """Fewest keys a table may have: a modelling set, not a look-up of single entities."""

    max_rows: int = Field(default=1_000_000, ge=1)


class SandboxPolicy(Strict):
    """What a partner's sandbox may send to the browser and keep, beyond the firewall and
    the mounts: what a person sees on screen is unavoidable, bulk export is not."""

    text_max_bytes: int = Field(default=1 << 20, ge=1024)
    """Largest text file (code, CSV, JSON) the contents API hands to the editor."""

    notebook_max_bytes: int = Field(default=16 << 20, ge=1024)
    """Largest notebook the contents API opens."""

    upload_max_bytes: int = Field(default=2 << 20, ge=1024)
    """Largest file (code or notebook) a partner may upload through JupyterLab; anything
    larger, and any data file, comes in through the import airlock."""

    data_suffixes: list[str] = Field(
        default=[
            ".parquet",
            ".arrow",
            ".feather",
            ".ipc",
            ".orc",
            ".avro",
            ".sqlite",
            ".sqlite3",
            ".db",
            ".duckdb",
            ".npy",
            ".npz",
            ".pkl",
            ".pickle",
            ".joblib",
            ".h5",
            ".hdf5",
            ".xlsx",
            ".xls",
            ".dta",
            ".sav",
            ".zip",
            ".tar",
            ".gz",
            ".tgz",
            ".bz2",
            ".xz",
            ".zst",
            ".7z",
            ".rar",
        ],
        min_length=1,
    )
    """File types never served to the browser nor accepted by upload (data formats and
    archives), whatever their size."""

    egress_bytes_per_hour: int = Field(default=32 << 20, ge=1 << 20)
    """Bytes a sandbox may send to the browser (API bodies, kernel and terminal output)
    in any rolling hour; over it the session is cut, audited and a case opened."""

    workspace_quota_bytes: int = Field(default=5 << 30, ge=1 << 20)
    """Disk a (user, scenario) workspace may use."""

    max_server_age_seconds: int = Field(default=12 * 3600, ge=600)
    """A sandbox is stopped this long after it started, however active."""

    mlflow_artifact_max_bytes: int = Field(default=512 << 20, ge=1 << 20)
    """Largest single artifact a partner may upload to MLflow."""

    mlflow_experiment_quota_bytes: int = Field(default=5 << 30, ge=1 << 20)
    """Artifact storage one experiment may use."""

    packages: PackagePolicy = Field(default_factory=PackagePolicy)
    airlock: AirlockPolicy = Field(default_factory=AirlockPolicy)

    @model_validator(mode="after")
    def _suffixes_are_suffixes(self) -> SandboxPolicy:
        bad = [s for s in self.data_suffixes if not s.startswith(".") or s != s.lower()]
        if bad:
            raise ValueError(f"data_suffixes must be lower-case and start with '.': {bad}")
        return self


OutputKind = Literal["scores", "aggregates", "charts", "reports"]


class AggregateTable(Strict):
    """How a published aggregate table is built from the run's input batch, so that the
    output check can rebuild it: cells are the distinct values of `by`; each cell's value
    is `agg` of `value` over its rows; `unit` names the contributor (a mine, an
    enterprise) whose count the threshold counts and whose share dominance measures."""

    by: list[SnakeId] = Field(min_length=1)
    agg: Literal["count", "sum", "mean"]
    value: SnakeId | None = None  # none for a count
    column: SnakeId
    """The published value column (the file's other columns are `by`)."""
    unit: SnakeId
    period_from: SnakeId | None = None
    """A time field of the batch whose start of the run's period (day, ISO week, month)
    is the `by` column `period`."""

    @model_validator(mode="after")
    def _value_fits(self) -> AggregateTable:
        if (self.agg == "count") != (self.value is None):
            raise ValueError("a count has no `value`; sum and mean need one")
        if self.column in self.by:
            raise ValueError(f"column {self.column!r} is also a `by` column")
        if (self.period_from is not None) != ("period" in self.by):
            raise ValueError("a `period` by-column and `period_from` go together")
        return self


class DeclaredOutput(Strict):
    """One file (or a glob of files) a production run may write to its output folder."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_*.][A-Za-z0-9_*./-]*$")
    """Relative to the output folder; `*` matches within one path segment."""
    kind: OutputKind
    key: SnakeId | None = None
    """scores: the column naming the subject (a per-scenario pseudonym, never an ID)."""
    columns: list[SnakeId] = Field(default_factory=list)
    """scores: the columns besides the key (score, grade, factor labels)."""
    table: AggregateTable | None = None
    max_rows: int | None = Field(default=None, ge=1)
    """More rows than the platform's limit, declared by the product."""
    max_bytes: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _kind_fits(self) -> DeclaredOutput:
        if self.kind == "scores" and (self.key is None or not self.columns):
            raise ValueError("a scores file declares its key and its columns")
        if self.kind != "scores" and (self.key is not None or self.columns):
            raise ValueError("only a scores file declares a key and columns")
        if (self.kind == "aggregates") != (self.table is not None):
            raise ValueError("an aggregates file, and only one, declares its table")
        if self.key is not None and self.key in self.columns:
            raise ValueError(f"the key {self.key!r} is also listed in columns")
        return self


class ProductInput(Strict):
    """The in-domain data a production run reads (read-only, as its input batch): rows
    of the scenario's view columns (without the label), or authorised fields of one
    dataset with identifiers pseudonymised and times kept to the day."""

    source: Literal["view", "dataset"]
    dataset: SnakeId | None = None
    fields: list[SnakeId] = Field(default_factory=list)

    @model_validator(mode="after")
    def _source_fits(self) -> ProductInput:
        if (self.source == "dataset") != (self.dataset is not None and bool(self.fields)):
            raise ValueError("a dataset input names its dataset and fields; a view input neither")
        return self


class ProductOutputs(Strict):
    """What one scenario's production runs read and may write."""

    input: ProductInput
    outputs: list[DeclaredOutput] = Field(min_length=1)


class OutputCheckPolicy(Strict):
    """产出检查: what a production run's output folder must satisfy before the outbox.
    Defaults are the stricter of ACRO's (threshold 10, (2, 90 %) dominance, p-ratio 10 %)
    and OpenSAFELY's (counts of 7 or less suppressed); a scenario's `output` may be
    stricter, never laxer."""

    min_cell_count: int = Field(default=10, ge=1)
    """Aggregate cells with fewer contributing units are suppressed."""
    dominance_n: int = Field(default=2, ge=1)
    dominance_k: float = Field(default=0.90, gt=0, le=1)
    """A cell whose `dominance_n` largest units make more than `dominance_k` of it is
    suppressed."""
    p_ratio: float = Field(default=0.10, ge=0, lt=1)
    """A cell where the units after the two largest make less than `p_ratio` of the
    largest is suppressed (the second could estimate the first within p %)."""
    max_file_bytes: int = Field(default=16 << 20, ge=1024)
    max_rows: int = Field(default=5000, ge=1)
    allowed_suffixes: list[str] = Field(
        default=[".csv", ".json", ".png", ".html", ".md", ".txt", ".ipynb"], min_length=1
    )
    """File types a run may write; anything else is quarantined (data formats and
    archives would carry rows past the checks)."""
    row_level_suffixes: list[str] = Field(default=[".csv", ".json"])
    """Tabular files: read as tables, their rows counted and their columns checked."""
    products: dict[SnakeId, ProductOutputs] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _suffixes(self) -> OutputCheckPolicy:
        listed = [*self.allowed_suffixes, *self.row_level_suffixes]
        bad = [s for s in listed if not s.startswith(".") or s != s.lower()]
        if bad:
            raise ValueError(f"suffixes must be lower-case and start with '.': {bad}")
        stray = [s for s in self.row_level_suffixes if s not in self.allowed_suffixes]
        if stray:
            raise ValueError(f"row_level_suffixes not in allowed_suffixes: {stray}")
        return self


class ReviewChainPolicy(Strict):
    levels: list[ReviewLevel] = Field(min_length=1)
    separation_of_duties: bool = True  # one person may not review twice or review their own


class Policies(Strict):
    """Everything under `policies/`, cross-checked."""

    catalogue: dict[str, Dataset]
    partners: dict[str, Partner]
    staff: dict[str, StaffUser]
    scenarios: dict[str, Scenario]
    masking: MaskingPolicy
    selfcheck: SelfCheckThresholds
    review_chain: ReviewChainPolicy
    sandbox: SandboxPolicy
    outputs: OutputCheckPolicy

    def dataset(self, dataset_id: str) -> Dataset:
        return self.catalogue[dataset_id]

    def scenario(self, scenario_id: str) -> Scenario:
        return self.scenarios[scenario_id]

    def review_levels(self, scenario: Scenario) -> list[ReviewLevel]:
        return scenario.review_chain or self.review_chain.levels

    def partner_of(self, username: str) -> Partner | None:
        for partner in self.partners.values():
            if any(u.username == username for u in partner.users):
                return partner
        return None

    def scenarios_for_user(self, username: str, day: dt.date) -> list[Scenario]:
        """Scenarios whose authorisation covers `username` on `day`."""
        partner = self.partner_of(username)
        if partner is None:
            return []
        return [
            s for s in self.scenarios.values() if partner.id in s.partners and s.is_valid_on(day)
        ]

    def used_datasets(self) -> list[str]:
        """Catalogue datasets that some scenario needs, in catalogue order."""
        used = {d for s in self.scenarios.values() for d in s.datasets}
        return [d for d in self.catalogue if d in used]


# ---------------------------------------------------------------- data products (API)


class ProductPurpose(Strict):
    """A use a consumer may put a product's scores to (permitted purpose, 使用用途)."""

    id: SnakeId
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)


class ProductGrade(Strict):
    """A risk grade: scores below `below` (and at or above the previous grade's) get it."""

    grade: str = Field(pattern=r"^[A-Z][A-Z0-9+-]{0,3}$")
    below: float = Field(gt=0)
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)


class ProductFactor(Strict):
    """A declared feature the API may name as a contributing factor, with the label
    shown when the subject's value raises the score and when it lowers it. Labels are
    words, never the value."""

    feature: SnakeId
    raises: str = Field(min_length=1)
    raises_en: str = Field(min_length=1)
    lowers: str = Field(min_length=1)
    lowers_en: str = Field(min_length=1)


class ApiProduct(Strict):
    """A data product delivered by API (以 API 接口形式提供): the approved model of a
    scenario, scored on the subject's masked features in the domain."""

    id: SnakeId
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    scenario: SnakeId
    model: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    """The registered model whose `approved` version is served (`<scenario>.<partner>`)."""
    identifier: Literal["uscc", "resident_id"]
    """What consumers name a subject by: 统一社会信用代码 or 居民身份证号."""
    consent_required: bool
    """Personal-data products are served only on a valid consent record (个人授权书)."""
    purposes: list[ProductPurpose] = Field(min_length=1)
    features: list[SnakeId] = Field(min_length=1)
    """The scenario features the product declares: the model may read no other, and the
    in-domain feature table holds no other."""
    factors: list[ProductFactor] = Field(min_length=1)
    grades: list[ProductGrade] = Field(min_length=2)
    top_factors: int = Field(default=3, ge=1, le=10)
    min_factor_effect: float = Field(default=0.005, ge=0)
    """A factor is named only when it moves the score by at least this much."""
    batch_limit: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _consistent(self) -> ApiProduct:
        for kind, values in (
            ("purpose", [p.id for p in self.purposes]),
            ("feature", self.features),
            ("factor", [f.feature for f in self.factors]),
            ("grade", [g.grade for g in self.grades]),
        ):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind}s: {', '.join(dupes)}")
        undeclared = [f.feature for f in self.factors if f.feature not in self.features]
        if undeclared:
            raise ValueError(f"factors name undeclared features: {', '.join(undeclared)}")
        bounds = [g.below for g in self.grades]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError("grades must be listed by increasing `below`")
        if self.identifier == "resident_id" and not self.consent_required:
            raise ValueError("a product scoring people needs consent_required: true")
        return self

    def purpose(self, purpose_id: str) -> ProductPurpose | None:
        return next((p for p in self.purposes if p.id == purpose_id), None)

    def grade_of(self, score: float) -> ProductGrade:
        for grade in self.grades:
            if score < grade.below:
                return grade
        return self.grades[-1]


class NightWindow(Strict):
    """Local hours `[start, end)` that count as night (00:00–06:00 by default)."""

    start_hour: int = Field(default=0, ge=0, le=23)
    end_hour: int = Field(default=6, ge=1, le=24)

    @model_validator(mode="after")
    def _ordered(self) -> NightWindow:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour (the window stays in one day)")
        return self

    def contains(self, hour: int) -> bool:
        return self.start_hour <= hour < self.end_hour


class NightCallsRule(Strict):
    """夜间高频次调用: subjects a key looks up during one night."""

    night: NightWindow = Field(default_factory=NightWindow)
    max_subjects: int = Field(default=200, ge=1)


class EnumerationRule(Strict):
    """批量遍历: distinct subjects a key looks up in a sliding window, and runs of
    consecutive identifiers (an enumeration counting through ID or code ranges)."""

    window_seconds: int = Field(default=3600, ge=60)
    max_distinct_subjects: int = Field(default=1000, ge=10)
    sequential_run: int = Field(default=10, ge=3)
    sequential_max_step: int = Field(default=1000, ge=1)
    """Identifiers read as numbers (their first 17 characters) that differ by at most
    this much from the one before count as consecutive (1000: one birth date further)."""


class CrossRegionRule(Strict):
    """跨区域批量调取: the share of a key's recent subjects registered outside the
    agreement's region."""

    window_subjects: int = Field(default=100, ge=5)
    min_subjects: int = Field(default=20, ge=5)
    max_outside_share: float = Field(default=0.3, gt=0, lt=1)


class ConsentFailuresRule(Strict):
    """Repeated calls without a valid consent (missing, expired, another purpose)."""

    window_seconds: int = Field(default=600, ge=60)
    max_failures: int = Field(default=5, ge=1)


class QuotaBurstRule(Strict):
    """A burst: more than this share of the daily quota within the window (and more than
    `min_subjects`, so that a small quota is not a hair trigger)."""

    window_seconds: int = Field(default=600, ge=60)
    max_share_of_daily_quota: float = Field(default=0.2, gt=0, le=1)
    min_subjects: int = Field(default=50, ge=1)


class DownloadRefusalsRule(Strict):
    """A partner whose sandbox refused this many downloads within the window."""

    window_seconds: int = Field(default=600, ge=60)
    max_refusals: int = Field(default=5, ge=1)


class NightSpawnRule(Strict):
    """A sandbox started at night, by a user not listed as allowed to work then."""

    night: NightWindow = Field(default_factory=NightWindow)
    allowed_users: list[Username] = Field(default_factory=list)


class MonitoringPolicy(Strict):
    """事中检查: the rules run on every product call and on the sandboxes' audit events.
    A rule left out is off; a hit blocks the key (product calls) and opens a case."""

    timezone: str = "Asia/Shanghai"
    night_calls: NightCallsRule | None = Field(default_factory=NightCallsRule)
    enumeration: EnumerationRule | None = Field(default_factory=EnumerationRule)
    cross_region: CrossRegionRule | None = Field(default_factory=CrossRegionRule)
    consent_failures: ConsentFailuresRule | None = Field(default_factory=ConsentFailuresRule)
    quota_burst: QuotaBurstRule | None = Field(default_factory=QuotaBurstRule)
    download_refusals: DownloadRefusalsRule | None = Field(default_factory=DownloadRefusalsRule)
    night_spawn: NightSpawnRule | None = Field(default_factory=NightSpawnRule)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        import zoneinfo  # noqa: PLC0415 - only to validate

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class ProductsPolicy(Strict):
    """`policies/products.yaml`: the products served by API and the 事中检查 rules."""

    products: list[ApiProduct] = Field(default_factory=list)
    monitoring: MonitoringPolicy = Field(default_factory=MonitoringPolicy)

    @model_validator(mode="after")
    def _unique(self) -> ProductsPolicy:
        ids = [p.id for p in self.products]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate product ids: {', '.join(dupes)}")
        return self

    def product(self, product_id: str) -> ApiProduct | None:
        return next((p for p in self.products if p.id == product_id), None)
