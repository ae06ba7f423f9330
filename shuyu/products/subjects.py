"""From the identifier a consumer sends to what the domain knows the subject by.

A consumer names an enterprise by its 统一社会信用代码 and a person by their 居民身份证号.
Only valid identifiers are taken (the GB 32100 and GB 11643 check characters, through
the validators the PII scans use). The identifier is pseudonymised exactly as the
masking job pseudonymised the scenario's spine key — same key, same namespace, same
`Pseudonymiser` — so that it finds the subject's row in the masked data; the raw value
is used for nothing else but reading its region code and, for the monitor, its place in
a sequence. It is never stored or logged: cases show a masked example only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shuyu.data import identifiers as ids
from shuyu.data.masking.pseudonym import Pseudonymiser
from shuyu.data.pii import mask_example
from shuyu.errors import InputError
from shuyu.policy.masking_rules import Pseudonym
from shuyu.policy.models import ApiProduct, PiiKind, Policies
from shuyu.products.refusals import Code, Refusal

IdentifierKind = Literal["uscc", "resident_id"]


@dataclass(frozen=True)
class Subject:
    """A subject as the domain sees it: never the identifier itself."""

    pseudonym: str
    region: str  # the six-digit administrative division code in the identifier
    ordinal: int  # the identifier's first 17 characters as a number (runs of neighbours)
    masked: str  # 9134**********123X: enough to recognise in a case, never to use


def normalised(kind: IdentifierKind, raw: str) -> str | None:
    """The identifier as the raw tables hold it (upper case, no spaces), if valid."""
    value = raw.strip().upper()
    valid = ids.is_uscc(value) if kind == "uscc" else ids.is_resident_id(value)
    return value if valid else None


def region_of(kind: IdentifierKind, value: str) -> str:
    return value[2:8] if kind == "uscc" else value[:6]


def ordinal_of(kind: IdentifierKind, value: str) -> int:
    # credit codes mix digits and letters: base 36 keeps neighbours neighbours
    return int(value[:17], 36) if kind == "uscc" else int(value[:17])


def region_prefix(code: str) -> str:
    """341300 (a city) → 3413; 340000 → 34; 341302 (a county) stays whole."""
    prefix = code
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


def in_regions(region: str, regions: list[str]) -> bool:
    return any(region.startswith(region_prefix(r)) for r in regions)


def spine_namespace(policies: Policies, product: ApiProduct) -> str:
    """The pseudonym namespace of the scenario's spine key: what the masked tables
    index the product's subjects by."""
    scenario = policies.scenario(product.scenario)
    spine = policies.dataset(scenario.spine)
    field = spine.field(spine.keys[scenario.entity])
    if not isinstance(field.masking, Pseudonym):  # the catalogue's validator refuses this
        raise InputError(f"dataset {spine.id}", f"key {field.id} is not pseudonymised")
    return field.masking.namespace


class SubjectKeys:
    """Pseudonymises one product's identifiers with the masking key."""

    def __init__(self, masking_key: bytes, *, kind: IdentifierKind, namespace: str) -> None:
        self.kind = kind
        self.namespace = namespace
        self._pseudonymiser = Pseudonymiser(masking_key)
        self._pii = PiiKind.uscc if kind == "uscc" else PiiKind.resident_id

    @classmethod
    def for_product(
        cls, masking_key: bytes, policies: Policies, product: ApiProduct
    ) -> SubjectKeys:
        return cls(
            masking_key, kind=product.identifier, namespace=spine_namespace(policies, product)
        )

    def subjects(self, raw: list[str]) -> list[Subject | Refusal]:
        """Each identifier as a `Subject`, or the refusal of an invalid one."""
        values = [normalised(self.kind, r) for r in raw]
        valid = [v for v in values if v is not None]
        pseudonyms = iter(self._pseudonymiser.few(self.namespace, valid))
        out: list[Subject | Refusal] = []
        for value in values:
            if value is None:
                out.append(Refusal(Code.IDENTIFIER_INVALID))
                continue
            out.append(
                Subject(
                    pseudonym=next(pseudonyms),
                    region=region_of(self.kind, value),
                    ordinal=ordinal_of(self.kind, value),
                    masked=mask_example(self._pii, value),
                )
            )
        return out
