"""Is a product's filing in force? The filed fingerprint against the one computed from
the live records now: the same ⇒ current; different ⇒ stale (with the parts that
moved); none filed ⇒ unfiled. Production asks before each run, the product API when it
loads a model and then from a cached flag (`shuyu.governance.product_gate`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from shuyu.errors import InputError, ShuyuError
from shuyu.governance.filing import FilingContent, build_filing, changes, describe_changes
from shuyu.governance.filing_store import latest_fingerprints
from shuyu.policy.models import ApiProduct, Policies
from shuyu.production.scenario_notebooks import PRODUCTION, scenario_file
from shuyu.registry.approval import ApprovalRecord
from shuyu.store.database import Database


class FilingState(StrEnum):
    CURRENT = "current"
    STALE = "stale"
    UNFILED = "unfiled"

    @property
    def zh(self) -> str:
        return {"current": "备案有效", "stale": "备案已失效，须重新备案", "unfiled": "未备案"}[
            self.value
        ]


@dataclass(frozen=True)
class FilingStatus:
    product: str
    state: FilingState
    current_fingerprint: str = ""
    filed_fingerprint: str = ""
    changed: list[str] = field(default_factory=list)
    problem: str = ""  # the live records could not be put together (why)

    @property
    def in_force(self) -> bool:
        return self.state is FilingState.CURRENT

    @property
    def reason_zh(self) -> str:
        if self.problem:
            return f"{self.product} 无法形成备案信息：{self.problem}"
        if self.state is FilingState.UNFILED:
            return f"{self.product} 尚未登记备案"
        if self.state is FilingState.STALE:
            zh, _ = describe_changes(self.changed)
            return f"{self.product} 的备案已失效（{zh or '备案内容'}已变更），须重新备案"
        return f"{self.product} 备案有效"

    @property
    def reason_en(self) -> str:
        if self.problem:
            return f"{self.product}: its filing cannot be put together: {self.problem}"
        if self.state is FilingState.UNFILED:
            return f"{self.product} has not been filed"
        if self.state is FilingState.STALE:
            _, en = describe_changes(self.changed)
            return f"{self.product}'s filing is stale ({en or 'its content'} changed): re-file it"
        return f"{self.product}'s filing is current"


def production_notebook_sha256(scenario: str, notebooks: Path | None = None) -> str:
    """The sha256 of the scenario's production notebook as shipped ("" if it has none)."""
    try:
        return hashlib.sha256(
            scenario_file(scenario, PRODUCTION, notebooks).read_bytes()
        ).hexdigest()
    except (InputError, OSError):
        return ""


def compare(
    product: str, current: FilingContent | None, filed: tuple[str, str] | None, problem: str = ""
) -> FilingStatus:
    """The status of `product` given what is filed (fingerprint, content JSON) and the
    content computed now (None, with `problem`, when it could not be)."""
    if current is None:
        state = FilingState.STALE if filed else FilingState.UNFILED
        return FilingStatus(
            product, state, filed_fingerprint=filed[0] if filed else "", problem=problem
        )
    if filed is None:
        return FilingStatus(product, FilingState.UNFILED, current.fingerprint)
    fingerprint, content = filed
    if fingerprint == current.fingerprint:
        return FilingStatus(product, FilingState.CURRENT, current.fingerprint, fingerprint)
    try:
        moved = changes(FilingContent.model_validate_json(content), current)
    except ValueError:
        moved = []
    return FilingStatus(product, FilingState.STALE, current.fingerprint, fingerprint, moved)


def live_content(
    policies: Policies,
    api_products: Iterable[ApiProduct],
    *,
    record: ApprovalRecord,
    model_version: str,
    notebook_sha256: str,
) -> tuple[FilingContent | None, str]:
    """The filing the live records make now, or None and why not."""
    try:
        content = build_filing(
            policies,
            api_products,
            record=record,
            model_version=model_version,
            production_notebook_sha256=notebook_sha256,
        )
    except (ShuyuError, KeyError) as exc:
        return None, str(exc)
    return content, ""


def filing_status(
    db: Database,
    policies: Policies,
    api_products: Iterable[ApiProduct],
    *,
    record: ApprovalRecord,
    model_version: str,
    notebook_sha256: str,
) -> FilingStatus:
    """One product's status, read from the database now (production, per run)."""
    current, problem = live_content(
        policies,
        api_products,
        record=record,
        model_version=model_version,
        notebook_sha256=notebook_sha256,
    )
    with db.engine.connect() as connection:
        filed = latest_fingerprints(connection).get(record.model_name)
    return compare(record.model_name, current, filed, problem)
