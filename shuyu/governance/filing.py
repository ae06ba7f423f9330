"""What a product's filing (登记备案) states, built from the platform's own records.

A product here is an approved registered model (`<scenario>.<partner>`): the version
behind alias `approved` that production runs and the product API serves. Its filing
holds the scenario's application (应用场景), scope and manner of use (使用范围及方式)
and pricing basis (定价依据) from the scenario policy, the data resources and fields it
uses with their providers (the catalogue), the API products that serve it, the approval
record with the self-check report's sha256, the model version and its files' digests,
and the sha256 of the production notebook. `fingerprint` is the sha256 of the
canonical JSON of all of it: a filing whose fingerprint differs from the one computed
from the live records now is stale, and `changes` says which parts moved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from shuyu.errors import InputError
from shuyu.policy.models import ApiProduct, Policies
from shuyu.registry.approval import ApprovalRecord


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FiledField(_Frozen):
    id: str
    name: str
    name_en: str


class FiledDataset(_Frozen):
    """A data resource the product uses (数据资源), its provider and the fields used."""

    id: str
    name: str
    name_en: str
    provider: str  # 数据提供单位
    origin: str  # public | partner
    fields: list[FiledField]


class FiledApiProduct(_Frozen):
    """A product interface that serves the model (以 API 接口形式提供)."""

    id: str
    name: str
    name_en: str
    identifier: str
    consent_required: bool
    purposes: list[str]
    features: list[str]


class FilingContent(_Frozen):
    """Everything a filing states; its canonical JSON is what the fingerprint covers."""

    product: str  # the registered model
    scenario: str
    scenario_name: str
    scenario_name_en: str
    category: str
    partner: str
    partner_name: str
    partner_name_en: str
    authorised_from: str
    authorised_until: str
    purpose: str
    purpose_en: str
    application: str
    application_en: str
    scope: str
    scope_en: str
    pricing_basis: str
    pricing_basis_en: str
    datasets: list[FiledDataset]
    api_products: list[FiledApiProduct]
    model_version: str
    model_digests: dict[str, str]
    selfcheck_report_sha256: str
    reviewed_notebook_sha256: str
    production_notebook_sha256: str
    spec_sha256: str
    privacy: str
    approval_sha256: str
    approval: ApprovalRecord

    def canonical(self) -> str:
        return canonical_json(self.model_dump(mode="json"))

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# the parts a change is reported by, in the words of the filing's headings
PART_LABELS: dict[str, tuple[str, str]] = {
    "model_version": ("模型版本", "model version"),
    "model_digests": ("模型文件 sha256", "model files' sha256"),
    "selfcheck_report_sha256": ("安全自查报告 sha256", "self-check report sha256"),
    "reviewed_notebook_sha256": ("评审笔记本 sha256", "reviewed notebook sha256"),
    "production_notebook_sha256": ("生产笔记本 sha256", "production notebook sha256"),
    "approval": ("批准记录", "approval record"),
    "approval_sha256": ("批准记录", "approval record"),
    "datasets": ("数据资源及字段", "data resources and fields"),
    "api_products": ("接口产品", "API products"),
    "application": ("应用场景", "application"),
    "scope": ("使用范围及方式", "scope and manner of use"),
    "pricing_basis": ("定价依据", "pricing basis"),
}


def changes(filed: FilingContent, current: FilingContent) -> list[str]:
    """The parts of `filed` that differ from `current` (field names, in order)."""
    was, now = filed.model_dump(mode="json"), current.model_dump(mode="json")
    return [name for name in FilingContent.model_fields if was.get(name) != now.get(name)]


def describe_changes(parts: Iterable[str]) -> tuple[str, str]:
    """The changed parts in Chinese and English, each once."""
    zh: list[str] = []
    en: list[str] = []
    for part in parts:
        label = PART_LABELS.get(part.removesuffix("_en"), (part, part))
        if label[0] not in zh:
            zh.append(label[0])
            en.append(label[1])
    return "、".join(zh), ", ".join(en)


def build_filing(
    policies: Policies,
    api_products: Iterable[ApiProduct],
    *,
    record: ApprovalRecord,
    model_version: str,
    production_notebook_sha256: str,
) -> FilingContent:
    """The filing of the approved `record` (its model at `model_version`) as the
    policies describe it now. Raises `InputError` naming what is missing."""
    scenario = policies.scenarios.get(record.scenario)
    if scenario is None:
        raise InputError("scenario", "is not in the policies", value=record.scenario)
    if scenario.filing is None:
        raise InputError(
            f"policies/scenarios/{scenario.id}.yaml",
            "has no filing: block (application, scope, pricing_basis in zh and en)",
            hint="add it before the product can be filed",
        )
    partner = policies.partners.get(record.partner)
    terms = scenario.filing
    datasets: list[FiledDataset] = []
    for dataset_id, field_ids in sorted(scenario.datasets.items()):
        dataset = policies.catalogue[dataset_id]
        by_id = {f.id: f for f in dataset.fields}
        datasets.append(
            FiledDataset(
                id=dataset.id,
                name=dataset.name,
                name_en=dataset.name_en,
                provider=dataset.provider,
                origin=dataset.origin,
                fields=[
                    FiledField(id=f, name=by_id[f].name, name_en=by_id[f].name_en)
                    for f in field_ids
                    if f in by_id
                ],
            )
        )
    served = [
        FiledApiProduct(
            id=p.id,
            name=p.name,
            name_en=p.name_en,
            identifier=p.identifier,
            consent_required=p.consent_required,
            purposes=[purpose.id for purpose in p.purposes],
            features=list(p.features),
        )
        for p in sorted(api_products, key=lambda p: p.id)
        if p.model == record.model_name
    ]
    return FilingContent(
        product=record.model_name,
        scenario=scenario.id,
        scenario_name=scenario.name,
        scenario_name_en=scenario.name_en,
        category=scenario.category,
        partner=record.partner,
        partner_name=partner.name if partner else record.partner,
        partner_name_en=partner.name_en if partner else record.partner,
        authorised_from=scenario.granted_on.isoformat(),
        authorised_until=scenario.expires_on.isoformat(),
        purpose=scenario.purpose,
        purpose_en=scenario.purpose_en,
        application=terms.application,
        application_en=terms.application_en,
        scope=terms.scope,
        scope_en=terms.scope_en,
        pricing_basis=terms.pricing_basis,
        pricing_basis_en=terms.pricing_basis_en,
        datasets=datasets,
        api_products=served,
        model_version=model_version,
        model_digests=dict(sorted(record.model_digests.items())),
        selfcheck_report_sha256=record.report_sha256,
        reviewed_notebook_sha256=record.notebook_sha256,
        production_notebook_sha256=production_notebook_sha256,
        spec_sha256=record.spec_sha256,
        privacy=record.privacy,
        approval_sha256=hashlib.sha256(record.canonical().encode("utf-8")).hexdigest(),
        approval=record,
    )
