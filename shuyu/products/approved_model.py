"""The model a product serves: the version behind alias `approved`, as the review approved it.

`shuyu.registry.approved.load_approved` downloads the version's files and checks each
against the digests the registry gate recorded. Here the version must further carry an
approval record signed with the approval key, for this product's scenario and model,
whose `model_digests` are the sha256 of exactly the files loaded — what the reviewers
saw is what is served — with one ONNX file, whose inputs the product declares.
"""

from __future__ import annotations

from dataclasses import dataclass

from shuyu.errors import ShuyuError
from shuyu.onnx_model import OnnxModel
from shuyu.policy.models import ApiProduct
from shuyu.registry.approval import APPROVAL_TAG, SIGNATURE_TAG, ApprovalRecord, verify
from shuyu.registry.approved import VerifiedModel, load_approved
from shuyu.registry.digests import sha256_bytes
from shuyu.tracking.store_client import MlflowStore


@dataclass(frozen=True)
class ApprovedModel:
    name: str
    version: str
    record: ApprovalRecord
    onnx: OnnxModel
    onnx_file: str
    onnx_sha256: str

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


class ModelRefused(ShuyuError):
    """The approved version may not be served (the product answers 503)."""


def approved_model(
    verified: VerifiedModel, *, product: ApiProduct, approval_key: bytes
) -> ApprovedModel:
    version = verified.version
    label = f"{version.name} v{version.version}"
    record_json = version.tags.get(APPROVAL_TAG)
    problem = verify(record_json, version.tags.get(SIGNATURE_TAG), approval_key)
    if problem is not None:
        raise ModelRefused(f"{label}: {problem}; not served")
    record = ApprovalRecord.model_validate_json(record_json or "")
    return servable_model(
        record, verified.files, product=product, name=version.name, version=version.version
    )


def servable_model(
    record: ApprovalRecord,
    files: dict[str, bytes],
    *,
    product: ApiProduct,
    name: str,
    version: str,
) -> ApprovedModel:
    """The model a product may serve from `files`, given a record already trusted (its
    signature verified here by `approved_model`, or by the service that published it)."""
    label = f"{name} v{version}"
    if name != product.model or record.model_name != product.model:
        raise ModelRefused(
            f"{label}: approved as {record.model_name}, but product {product.id} serves "
            f"{product.model}"
        )
    if record.scenario != product.scenario:
        raise ModelRefused(
            f"{label}: approved for scenario {record.scenario}, not {product.scenario}"
        )
    loaded = {file: sha256_bytes(data) for file, data in files.items()}
    if loaded != record.model_digests:
        changed = sorted(set(loaded.items()) ^ set(record.model_digests.items()))
        raise ModelRefused(
            f"{label}: its files differ from those the reviewers approved "
            f"({changed[0][0]}: sha256 mismatch); not served"
        )
    onnx_files = sorted(file for file in files if file.endswith(".onnx"))
    if len(onnx_files) != 1:
        raise ModelRefused(f"{label}: needs exactly one .onnx file, has {len(onnx_files)}")
    onnx_file = onnx_files[0]
    model = OnnxModel.load(files[onnx_file])
    undeclared = [feature for feature in model.input_names if feature not in product.features]
    if undeclared:
        raise ModelRefused(
            f"{label}: reads features product {product.id} does not declare: "
            + ", ".join(undeclared)
        )
    return ApprovedModel(
        name=name,
        version=version,
        record=record,
        onnx=model,
        onnx_file=onnx_file,
        onnx_sha256=loaded[onnx_file],
    )


def load_approved_model(
    store: MlflowStore, product: ApiProduct, approval_key: bytes
) -> ApprovedModel:
    """The product's approved version from the registry, verified twice over."""
    try:
        verified = load_approved(store, product.model)
    except ShuyuError as exc:
        raise ModelRefused(str(exc)) from None
    return approved_model(verified, product=product, approval_key=approval_key)
