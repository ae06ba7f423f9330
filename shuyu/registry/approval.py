"""The approval record: who approved a model at which level, bound to what they saw.

The record names the submission, the scenario, the model's file digests, the self-check
report's and the notebook's (and the spec's) sha256, and every level's reviewers with
times. The review service signs it (HMAC-SHA256 with the approval key, a secret only
the service and the MLflow server hold); the registry guard refuses to point `approved`
at a version whose record is missing or whose signature does not verify, so that even
the gate's own account cannot approve what the review did not.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from pydantic import BaseModel, ConfigDict, Field

APPROVAL_TAG = "shuyu.approval"
SIGNATURE_TAG = "shuyu.approval_signature"


class LevelApproval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: str
    name: str
    reviewers: list[tuple[str, str]]  # (username, ISO time)


class ApprovalRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_id: str
    scenario: str
    partner: str
    submitter: str
    model_name: str
    run_id: str
    levels: list[LevelApproval] = Field(min_length=1)
    report_sha256: str
    notebook_sha256: str
    spec_sha256: str = ""
    model_digests: dict[str, str]
    privacy: str  # "certified ε=2.99 δ=1e-05", "claimed …"

    def canonical(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def sign(record_json: str, key: bytes) -> str:
    return hmac.new(key, record_json.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(record_json: str | None, signature: str | None, key: bytes) -> str | None:
    """None when the record is present and signed with `key`; otherwise why not."""
    if not record_json:
        return "the version carries no approval record"
    if not signature or not hmac.compare_digest(sign(record_json, key), signature):
        return "the approval record's signature does not verify"
    try:
        ApprovalRecord.model_validate_json(record_json)
    except ValueError:
        return "the approval record is malformed"
    return None


def approval_tags(record: ApprovalRecord, key: bytes) -> dict[str, str]:
    """The version tags that carry a signed record."""
    text = record.canonical()
    return {APPROVAL_TAG: text, SIGNATURE_TAG: sign(text, key)}
