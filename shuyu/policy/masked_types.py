"""The type a field has after its masking rule: the contract between masking and views."""

from __future__ import annotations

from shuyu.policy.models import FieldSpec, FieldType


def masked_type(spec: FieldSpec) -> FieldType:
    """Type of `spec`'s column in the masked zone (meaningless for dropped fields)."""
    rule = spec.masking
    if rule.rule in {"keep", "clip"}:
        return spec.type
    if rule.rule == "date":
        return FieldType.int if rule.to == "year" else FieldType.string
    # pseudonym, partial, age_band, region, bucket all produce labels
    return FieldType.string
