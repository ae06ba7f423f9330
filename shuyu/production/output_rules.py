"""The rules one scenario's production outputs are checked by: the output policy's, made
stricter (never laxer) by the scenario's `output`, and the files its product declares."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from shuyu.errors import InputError
from shuyu.policy.models import DeclaredOutput, Policies, ProductOutputs, Role
from shuyu.production.suppression import DisclosureRules


@dataclass(frozen=True)
class ScenarioOutputRules:
    scenario: str
    disclosure: DisclosureRules
    max_file_bytes: int
    max_rows: int
    allowed_suffixes: frozenset[str]
    row_level_suffixes: frozenset[str]
    product: ProductOutputs | None
    identifier_columns: frozenset[str]
    """Column names that hold identifiers in the catalogue (resident ID, credit code, VIN,
    names, mobiles …): never a column of an output."""

    def declared(self, relative: str) -> DeclaredOutput | None:
        """The product's declaration `relative` (a path inside the output folder) falls
        under, if any; `*` does not cross a `/`."""
        if self.product is None:
            return None
        for output in self.product.outputs:
            if _matches(relative, output.name):
                return output
        return None

    def rows_allowed(self, declared: DeclaredOutput | None) -> int:
        return declared.max_rows if declared and declared.max_rows else self.max_rows

    def bytes_allowed(self, declared: DeclaredOutput | None) -> int:
        return declared.max_bytes if declared and declared.max_bytes else self.max_file_bytes


def _matches(relative: str, pattern: str) -> bool:
    parts, wanted = relative.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(
        fnmatch.fnmatchcase(p, w) for p, w in zip(parts, wanted, strict=True)
    )


def rules_for(policies: Policies, scenario_id: str) -> ScenarioOutputRules:
    """The stricter of the platform's output policy and the scenario's `output` rules."""
    scenario = policies.scenarios.get(scenario_id)
    if scenario is None:
        raise InputError("scenario", "unknown scenario", value=scenario_id)
    platform, own = policies.outputs, scenario.output
    disclosure = DisclosureRules(
        min_units=max(platform.min_cell_count, own.min_cell_count),
        dominance_n=max(platform.dominance_n, own.dominance_n),
        dominance_k=min(platform.dominance_k, own.dominance_k),
        p_ratio=platform.p_ratio,
    )
    identifiers = frozenset(
        f.id
        for d in policies.catalogue.values()
        for f in d.fields
        if f.role is Role.direct_identifier or f.pii is not None
    )
    return ScenarioOutputRules(
        scenario=scenario_id,
        disclosure=disclosure,
        max_file_bytes=platform.max_file_bytes,
        max_rows=own.max_rows or platform.max_rows,
        allowed_suffixes=frozenset(platform.allowed_suffixes),
        row_level_suffixes=frozenset(platform.row_level_suffixes),
        product=platform.products.get(scenario_id),
        identifier_columns=identifiers,
    )
