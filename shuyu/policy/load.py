"""Load `policies/` into `Policies`, reporting every problem as `file: path: reason`.

Each file is validated on its own by the pydantic models; then the checks that span
files run: every scenario field exists in the catalogue and is used (minimum necessary),
every partner exists, datasets join on the scenario's entity, the review chain's groups
have reviewers.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shuyu.errors import Problem, ProblemsError
from shuyu.policy.aggregations import AGGREGATIONS
from shuyu.policy.masking_rules import RULES
from shuyu.policy.models import (
    Dataset,
    Feature,
    MaskingPolicy,
    OutputCheckPolicy,
    PartnersFile,
    Policies,
    ProductOutputs,
    ReviewChainPolicy,
    Role,
    SandboxPolicy,
    Scenario,
    SelfCheckThresholds,
)

M = TypeVar("M", bound=BaseModel)
Identified = TypeVar("Identified", Dataset, Scenario)


def default_policies_dir() -> Path:
    """`$SHUYU_POLICIES`, else `policies/` of the source tree, else the installed copy."""
    from shuyu.settings import HostSettings  # noqa: PLC0415 - settings import policy models

    configured = HostSettings.from_env().policies
    if configured:
        return configured
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "policies", Path("/etc/shuyu/policies")):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "policies"


def load_policies(directory: Path | None = None) -> Policies:
    """Load and cross-check; raises `ProblemsError` listing every problem found."""
    root = Path(directory) if directory is not None else default_policies_dir()
    problems: list[Problem] = []
    if not root.is_dir():
        raise ProblemsError(
            [
                Problem(
                    str(root),
                    "-",
                    "policy directory not found; pass --policies DIR or set SHUYU_POLICIES",
                )
            ]
        )

    catalogue = _load_many(root / "catalogue", Dataset, problems)
    scenarios = _load_many(root / "scenarios", Scenario, problems)
    partners_file = _load_one(root / "partners.yaml", PartnersFile, problems)
    masking = _load_one(root / "masking.yaml", MaskingPolicy, problems)
    selfcheck = _load_one(root / "selfcheck.yaml", SelfCheckThresholds, problems)
    chain = _load_one(root / "review_chain.yaml", ReviewChainPolicy, problems)
    sandbox = _load_one(root / "sandbox.yaml", SandboxPolicy, problems)
    outputs = _load_one(root / "outputs.yaml", OutputCheckPolicy, problems)

    if partners_file is not None:
        problems += _check_accounts(root / "partners.yaml", partners_file)
    if partners_file is not None and chain is not None:
        problems += _check_chain(root, partners_file, chain, scenarios)
    partner_ids = {p.id for p in partners_file.partners} if partners_file else set()
    products = outputs.products if outputs is not None else {}
    for path, scenario in scenarios.items():
        problems += _check_scenario(
            path, scenario, catalogue, partner_ids, production=products.get(scenario.id)
        )
    if outputs is not None:
        problems += _check_products(root / "outputs.yaml", outputs, scenarios)

    if masking is not None:
        for dataset_id in masking.k_overrides:
            if dataset_id not in {d.id for d in catalogue.values()}:
                problems.append(
                    Problem(
                        str(root / "masking.yaml"), f"k_overrides.{dataset_id}", "unknown dataset"
                    )
                )

    problems += _check_unique_ids(catalogue, "dataset")
    problems += _check_unique_ids(scenarios, "scenario")
    if (
        problems
        or partners_file is None
        or masking is None
        or selfcheck is None
        or chain is None
        or sandbox is None
        or outputs is None
    ):
        raise ProblemsError(problems)
    return Policies(
        catalogue={d.id: d for d in catalogue.values()},
        partners={p.id: p for p in partners_file.partners},
        staff={s.username: s for s in partners_file.staff},
        scenarios={s.id: s for s in scenarios.values()},
        masking=masking,
        selfcheck=selfcheck,
        review_chain=chain,
        sandbox=sandbox,
        outputs=outputs,
    )


# ---------------------------------------------------------------- reading files


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        problems.append(Problem(str(path), "-", "file not found"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "-"
        problems.append(Problem(str(path), where, f"not valid YAML: {exc}".replace("\n", " ")))
    return None


def _load_one(path: Path, model: type[M], problems: list[Problem]) -> M | None:
    data = _read_yaml(path, problems)
    if data is None:
        if path.exists() and not problems:
            problems.append(Problem(str(path), "-", "file is empty"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_validation_problems(path, exc))
        return None


def _load_many(
    directory: Path, model: type[Identified], problems: list[Problem]
) -> dict[Path, Identified]:
    loaded: dict[Path, Identified] = {}
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        problems.append(Problem(str(directory), "-", "no *.yaml files"))
    for path in files:
        item = _load_one(path, model, problems)
        if item is None:
            continue
        if item.id != path.stem:
            problems.append(
                Problem(str(path), "id", f"id {item.id!r} must match the file name {path.stem!r}")
            )
        loaded[path] = item
    return loaded


def _validation_problems(path: Path, exc: ValidationError) -> Iterable[Problem]:
    for error in exc.errors():
        loc = _format_loc(error["loc"])
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] not in {"missing", "extra_forbidden"} and "input" in error:
            shown = repr(error["input"])
            if len(shown) <= 60:
                reason = f"{reason} (got {shown})"
        yield Problem(str(path), loc or "-", reason)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in RULES and out.endswith("masking"):
            continue  # pydantic names the union branch; the user wrote `rule:` already
        else:
            out += f".{part}" if out else str(part)
    return out


# ---------------------------------------------------------------- cross-file checks


def _check_unique_ids(items: dict[Path, Any], kind: str) -> list[Problem]:
    seen: dict[str, Path] = {}
    problems = []
    for path, item in items.items():
        if item.id in seen:
            problems.append(
                Problem(str(path), "id", f"{kind} id {item.id!r} already used by {seen[item.id]}")
            )
        seen[item.id] = path
    return problems


def _check_accounts(path: Path, partners: PartnersFile) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for i, partner in enumerate(partners.partners):
        for j, user in enumerate(partner.users):
            where = f"partners[{i}].users[{j}].username"
            if user.username in seen:
                problems.append(
                    Problem(str(path), where, f"{user.username!r} is already {seen[user.username]}")
                )
            seen[user.username] = f"a user of partner {partner.id}"
    for i, staff in enumerate(partners.staff):
        if staff.username in seen:
            problems.append(
                Problem(
                    str(path),
                    f"staff[{i}].username",
                    f"{staff.username!r} is already {seen[staff.username]}; "
                    "a partner user may not also be staff",
                )
            )
        seen[staff.username] = "a staff account"
    ids = [p.id for p in partners.partners]
    for i, pid in enumerate(ids):
        if ids.index(pid) != i:
            problems.append(Problem(str(path), f"partners[{i}].id", f"duplicate partner {pid!r}"))
    return problems


def _check_chain(
    root: Path, partners: PartnersFile, chain: ReviewChainPolicy, scenarios: dict[Path, Scenario]
) -> list[Problem]:
    groups = {g for s in partners.staff for g in s.groups}
    problems = []
    for i, level in enumerate(chain.levels):
        if level.group not in groups:
            problems.append(
                Problem(
                    str(root / "review_chain.yaml"),
                    f"levels[{i}].group",
                    f"no staff account is in group {level.group!r}",
                )
            )
    for path, scenario in scenarios.items():
        for i, level in enumerate(scenario.review_chain or []):
            if level.group not in groups:
                problems.append(
                    Problem(
                        str(path),
                        f"review_chain[{i}].group",
                        f"no staff account is in group {level.group!r}",
                    )
                )
    return problems


def _check_scenario(
    path: Path,
    s: Scenario,
    catalogue: dict[Path, Dataset],
    partner_ids: set[str],
    *,
    production: ProductOutputs | None = None,
) -> list[Problem]:
    file = str(path)
    datasets = {d.id: d for d in catalogue.values()}
    problems = [
        Problem(file, f"partners[{i}]", f"unknown partner {pid!r}; add it to partners.yaml")
        for i, pid in enumerate(s.partners)
        if pid not in partner_ids
    ]
    problems += _check_authorised_datasets(file, s, datasets)
    used: dict[str, set[str]] = {d: set() for d in s.datasets}
    columns = [(f"features[{i}]", f) for i, f in enumerate(s.features)] + [("label", s.label)]
    for where, feature in columns:
        problems += _check_column(file, where, feature, s, datasets=datasets, used=used)
    if production is not None and production.input.dataset in used:
        # the fields a production run reads are used too (the coal report's sale times)
        used[production.input.dataset] |= set(production.input.fields)
    problems += _check_minimum_necessary(file, s, datasets, used)
    return problems


def _check_authorised_datasets(
    file: str, s: Scenario, datasets: dict[str, Dataset]
) -> list[Problem]:
    problems: list[Problem] = []
    for dataset_id, fields in s.datasets.items():
        dataset = datasets.get(dataset_id)
        if dataset is None:
            problems.append(Problem(file, f"datasets.{dataset_id}", "dataset not in the catalogue"))
            continue
        if s.entity not in dataset.keys:
            problems.append(
                Problem(
                    file,
                    f"datasets.{dataset_id}",
                    f"dataset has no {s.entity.value} key to join on",
                )
            )
        problems += [
            Problem(
                file,
                f"datasets.{dataset_id}[{j}]",
                f"field {field_id!r} is not in dataset {dataset_id}",
            )
            for j, field_id in enumerate(fields)
            if field_id not in dataset.field_ids
        ]
    if s.spine not in s.datasets:
        problems.append(Problem(file, "spine", f"spine {s.spine!r} is not one of the datasets"))
    elif s.spine in datasets and datasets[s.spine].grain != "entity":
        problems.append(
            Problem(file, "spine", f"spine {s.spine!r} must have one row per {s.entity.value}")
        )
    return problems


def _check_column(
    file: str,
    where: str,
    feature: Feature,
    s: Scenario,
    *,
    datasets: dict[str, Dataset],
    used: dict[str, set[str]],
) -> list[Problem]:
    """One feature (or the label): authorised, aggregated as its grain needs, of a type
    its aggregation can take."""
    if feature.dataset not in s.datasets:
        return [
            Problem(
                file,
                f"{where}.dataset",
                f"{feature.dataset!r} is not an authorised dataset of this scenario",
            )
        ]
    authorised = s.datasets[feature.dataset]
    if feature.field not in authorised:
        return [
            Problem(
                file,
                f"{where}.field",
                f"{feature.dataset}.{feature.field} is not among the authorised fields",
            )
        ]
    problems: list[Problem] = []
    used[feature.dataset].add(feature.field)
    if feature.where is not None:
        if feature.where.field in authorised:
            used[feature.dataset].add(feature.where.field)
        else:
            problems.append(
                Problem(
                    file,
                    f"{where}.where.field",
                    f"{feature.dataset}.{feature.where.field} is not among the authorised fields",
                )
            )
    dataset = datasets.get(feature.dataset)
    if dataset is None or feature.field not in dataset.field_ids:
        return problems
    spec = dataset.field(feature.field)
    name = f"{feature.dataset}.{feature.field}"
    aggregation = AGGREGATIONS[feature.agg] if feature.agg is not None else None
    if spec.role is Role.direct_identifier and not (aggregation and aggregation.counts_only):
        # counting records by their ids is fine: only the count reaches the view
        problems.append(
            Problem(
                file,
                f"{where}.field",
                f"{name} is a direct identifier: only "
                "count or n_distinct of it may be a model input",
            )
        )
    if spec.masking.rule == "drop":
        problems.append(Problem(file, f"{where}.field", f"{name} is dropped by masking"))
        return problems
    if dataset.grain == "event" and feature.agg is None:
        problems.append(
            Problem(
                file, f"{where}.agg", f"{feature.dataset} has many rows per entity: give an agg"
            )
        )
    if dataset.grain == "entity" and feature.agg is not None:
        problems.append(
            Problem(file, f"{where}.agg", f"{feature.dataset} has one row per entity: remove agg")
        )
    kind = spec.masked_type
    if aggregation is not None and kind not in aggregation.accepts:
        reason = aggregation.refusal.format(agg=aggregation.name, field=feature.field, kind=kind)
        problems.append(Problem(file, f"{where}.agg", reason))
    return problems


def _check_minimum_necessary(
    file: str, s: Scenario, datasets: dict[str, Dataset], used: dict[str, set[str]]
) -> list[Problem]:
    """Every authorised field is used by a feature, the label or a filter, or is the
    join key: nothing is authorised 'just in case' (最小必要)."""
    problems: list[Problem] = []
    for dataset_id, fields in s.datasets.items():
        dataset = datasets.get(dataset_id)
        key = dataset.keys.get(s.entity) if dataset else None
        problems += [
            Problem(
                file,
                f"datasets.{dataset_id}[{j}]",
                f"field {field_id!r} is authorised but no feature uses it; remove "
                "it (minimum necessary)",
            )
            for j, field_id in enumerate(fields)
            if field_id not in used.get(dataset_id, set()) and field_id != key
        ]
        if key is not None and key not in fields:
            problems.append(
                Problem(
                    file,
                    f"datasets.{dataset_id}",
                    f"add the join key {key!r}: it is needed to link the dataset to the entity",
                )
            )
    return problems


def _check_products(
    path: Path, outputs: OutputCheckPolicy, scenarios: dict[Path, Scenario]
) -> list[Problem]:
    """Every product is a scenario's, writes only the kinds its scenario allows, and
    reads only authorised fields."""
    file = str(path)
    by_id = {s.id: s for s in scenarios.values()}
    problems: list[Problem] = []
    for scenario_id, product in outputs.products.items():
        where = f"products.{scenario_id}"
        scenario = by_id.get(scenario_id)
        if scenario is None:
            problems.append(Problem(file, where, f"unknown scenario {scenario_id!r}"))
            continue
        for i, declared in enumerate(product.outputs):
            if declared.kind not in scenario.output.kinds:
                problems.append(
                    Problem(
                        file,
                        f"{where}.outputs[{i}].kind",
                        f"scenario {scenario_id} does not allow {declared.kind} outputs "
                        f"(its output.kinds are {', '.join(scenario.output.kinds)})",
                    )
                )
        source = product.input
        columns = set(source.fields) if source.dataset else {"entity_id", *scenario.feature_names}
        for i, declared in enumerate(product.outputs):
            table = declared.table
            if table is None:
                continue
            needed = [*table.by, table.unit, table.value, table.period_from]
            problems += [
                Problem(
                    file,
                    f"{where}.outputs[{i}].table",
                    f"{name!r} is not a column of the input batch ({', '.join(sorted(columns))})",
                )
                for name in dict.fromkeys(needed)
                if name is not None and name != "period" and name not in columns
            ]
        if source.dataset is None:
            continue
        authorised = scenario.datasets.get(source.dataset)
        if authorised is None:
            problems.append(
                Problem(
                    file,
                    f"{where}.input.dataset",
                    f"{source.dataset!r} is not an authorised dataset of {scenario_id}",
                )
            )
            continue
        problems += [
            Problem(
                file,
                f"{where}.input.fields[{j}]",
                f"{source.dataset}.{field} is not among {scenario_id}'s authorised fields",
            )
            for j, field in enumerate(source.fields)
            if field not in authorised
        ]
    return problems
