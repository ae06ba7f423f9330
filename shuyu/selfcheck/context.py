"""What a check sees: the submission's snapshot and the in-domain data, as the check
runner mounts them. Nothing here is the partner's live run: the snapshot was taken by the
platform when the submission was made, and what is checked is what gets registered.

Layout of a check runner (all read-only but /output):

    /input/submission.json   SubmissionInput below
    /input/model/            the model's files (MLmodel, model.onnx, …)
    /input/artifacts/        the run's other artifacts (size-limited)
    /input/code/             the run's notebook(s) and code files
    /data/<scenario>/        train.parquet, holdout.parquet, view.json
    /fingerprints/           row fingerprints of the raw and masked tables
    /output/                 results: report.json, report.ipynb, report.html
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shuyu.policy.models import Policies, Scenario, SelfCheckThresholds
from shuyu.selfcheck.result import PrivacyStatement


class DatasetInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    digest: str
    tags: dict[str, str] = Field(default_factory=dict)


class RunRecord(BaseModel):
    """The partner's run as MLflow reported it when the snapshot was taken: the
    partner's word, to be verified, never trusted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    user_id: str
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    dataset_inputs: list[DatasetInput] = Field(default_factory=list)


class SubmissionInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_id: str
    scenario: str
    partner: str
    submitter: str
    submitted_at: dt.datetime
    run: RunRecord
    privacy: PrivacyStatement
    spec_sha256: str = ""  # certified training: the spec the platform trained from
    approved_modules: tuple[str, ...] = ()
    """The modules the scenario's approved package set installs (the platform's record of
    what it published, never the partner's word): what a run may import beside the
    runner image's own."""


@dataclass(frozen=True)
class CheckContext:
    policies: Policies
    submission: SubmissionInput
    model_dir: Path
    artifacts_dir: Path
    code_dir: Path
    view_dir: Path  # train.parquet, holdout.parquet, view.json of the scenario
    fingerprints_dir: Path
    today: dt.date

    @property
    def scenario(self) -> Scenario:
        return self.policies.scenario(self.submission.scenario)

    @property
    def thresholds(self) -> SelfCheckThresholds:
        return self.policies.selfcheck


INPUT_ROOT = Path("/input")
DATA_ROOT = Path("/data")
FINGERPRINTS_ROOT = Path("/fingerprints")
OUTPUT_ROOT = Path("/output")
