"""`policies/products.yaml`, validated by its model and cross-checked against the
scenarios: every product names a scenario, declares only that scenario's features,
names people by resident ID (with consent) and enterprises by credit code, and serves
the registered model of one of the scenario's partners."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shuyu.errors import Problem, ProblemsError
from shuyu.policy.load import _load_one, default_policies_dir
from shuyu.policy.models import EntityKind, Policies, ProductsPolicy

PRODUCTS_FILE = "products.yaml"
_IDENTIFIERS = {EntityKind.enterprise: "uscc", EntityKind.person: "resident_id"}


def load_products_policy(policies: Policies, directory: Path | None = None) -> ProductsPolicy:
    """The products policy of `directory` (default: the policies directory); a missing
    file is no products. Raises `ProblemsError` listing every problem."""
    root = Path(directory) if directory is not None else default_policies_dir()
    path = root / PRODUCTS_FILE
    if not path.exists():
        return ProductsPolicy()
    problems: list[Problem] = []
    loaded = _load_one(path, ProductsPolicy, problems)
    if loaded is not None:
        problems += cross_check(str(path), loaded, policies)
    if problems or loaded is None:
        raise ProblemsError(problems)
    return loaded


def cross_check(file: str, loaded: ProductsPolicy, policies: Policies) -> list[Problem]:
    problems: list[Problem] = []
    for i, product in enumerate(loaded.products):
        where = f"products[{i}]"
        scenario = policies.scenarios.get(product.scenario)
        if scenario is None:
            problems.append(
                Problem(file, f"{where}.scenario", f"unknown scenario {product.scenario!r}")
            )
            continue
        wanted = _IDENTIFIERS.get(scenario.entity)
        if wanted != product.identifier:
            problems.append(
                Problem(
                    file,
                    f"{where}.identifier",
                    f"scenario {scenario.id} is about {scenario.entity.value} entities, "
                    f"named by {wanted or 'no identifier a consumer holds'}",
                )
            )
        if scenario.entity is EntityKind.person and not product.consent_required:
            problems.append(
                Problem(file, f"{where}.consent_required", "a product about people needs consent")
            )
        known = set(scenario.feature_names)
        problems += [
            Problem(file, f"{where}.features[{j}]", f"{name!r} is not a feature of {scenario.id}")
            for j, name in enumerate(product.features)
            if name not in known
        ]
        model_scenario, _, partner = product.model.partition(".")
        if model_scenario != scenario.id or partner not in scenario.partners:
            problems.append(
                Problem(
                    file,
                    f"{where}.model",
                    f"must be <scenario>.<partner> of {scenario.id}: one of "
                    + ", ".join(f"{scenario.id}.{p}" for p in scenario.partners),
                )
            )
    return problems


@dataclass
class ProductsCache:
    """The products policy as a long-running process sees it: read again when the
    policies or `products.yaml` change (a product added takes effect without a restart)."""

    policies: Callable[[], Policies]
    stamp: tuple[int, float] | None = None
    loaded: ProductsPolicy | None = None

    def __call__(self) -> ProductsPolicy:
        policies = self.policies()
        path = default_policies_dir() / PRODUCTS_FILE
        stamp = (id(policies), path.stat().st_mtime if path.exists() else 0.0)
        if self.loaded is None or stamp != self.stamp:
            self.loaded, self.stamp = load_products_policy(policies), stamp
        return self.loaded
