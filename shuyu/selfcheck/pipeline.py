"""The self-check from the platform's side: snapshot, (certified training), check runner.

1. The submitted run is read with the registry gate's account: it must be the
   submitter's own run, in its partner's experiment of the scenario.
2. With a training spec, the platform trains the model itself in a training runner
   (the scenario's train view, read-only, no network, no credential): that model and the
   platform accountant's (ε, δ) — *certified* — are what is checked. Without one, the
   run's logged model is snapshotted and its ε, if any, is the partner's *claim*.
3. The run's other artifacts and the submitted notebook/code join the snapshot, which
   goes into a check runner with the scenario's holdout and the row fingerprints
   mounted read-only; it runs the registered checks and renders the report.
4. The report (HTML, JSON, notebook) comes back, is kept by the service with its sha256
   and attached to the partner's run by the gate.
The same pipeline serves `shuyu selfcheck` on the command line and the review service.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_bytes, atomic_write_text, file_sha256
from shuyu.policy.load import default_policies_dir
from shuyu.policy.models import Policies
from shuyu.registry.gate import snapshot_model
from shuyu.review.service import CheckOutcome, CheckRequest
from shuyu.runner.job import Executor, JobKind, Outcome, RunnerJob, VolumeMount, folder_inputs
from shuyu.sandbox_env import view_mount
from shuyu.selfcheck.context import (
    DATA_ROOT,
    FINGERPRINTS_ROOT,
    DatasetInput,
    RunRecord,
    SubmissionInput,
)
from shuyu.selfcheck.result import PrivacyKind, PrivacyStatement, SelfCheckReport, Status
from shuyu.settings import PlatformSettings
from shuyu.tracking.experiments import experiment_name
from shuyu.tracking.store_client import MlflowStore, RunInfo, artifact_path_of
from shuyu.train.spec import parse_spec, spec_sha256

REPORT_FILES = ("report.json", "report.html", "report.ipynb", "submission.json")
MAX_ARTIFACT_BYTES = 512 << 20
Progress = Callable[[str], None]


def claimed_privacy(run: RunInfo) -> PrivacyStatement:
    """What the partner's own run says of its privacy: their word, checked later."""
    if run.tags.get("dp") != "true":
        return PrivacyStatement(kind=PrivacyKind.NONE)
    epsilon = run.metrics.get("epsilon_spent")
    delta = run.metrics.get("delta")
    if delta is None and "delta" in run.params:
        try:
            delta = float(run.params["delta"])
        except ValueError:
            delta = None
    return PrivacyStatement(
        kind=PrivacyKind.CLAIMED,
        epsilon=epsilon,
        delta=delta,
        accountant=run.params.get("accountant", ""),
    )


def run_record(run: RunInfo) -> RunRecord:
    inputs = []
    for item in run.inputs:
        dataset = item.get("dataset") or {}
        tags = {str(t.get("key")): str(t.get("value")) for t in item.get("tags") or []}
        inputs.append(
            DatasetInput(
                name=str(dataset.get("name", "")), digest=str(dataset.get("digest", "")), tags=tags
            )
        )
    return RunRecord(
        run_id=run.run_id,
        user_id=run.user_id,
        params=run.params,
        tags=run.tags,
        metrics=run.metrics,
        dataset_inputs=inputs,
    )


@dataclass
class SelfCheckPipeline:
    store: MlflowStore  # the registry gate's account: reads any partner run
    executor: Executor
    settings: PlatformSettings
    policies: Callable[[], Policies]
    check_timeout: float = 1800.0
    train_timeout: float = 3600.0
    progress: Progress = lambda _line: None
    approved_modules: Callable[[str], list[str]] = lambda _scenario: []
    """The modules a scenario's approved package set installs (`ApprovedWheels.modules`)."""

    def check(self, request: CheckRequest) -> CheckOutcome:
        work = request.workdir
        if work.exists():
            shutil.rmtree(work)
        (work / "snapshot").mkdir(parents=True)
        run = self.store.get_run(request.run_id)
        refusal = self._ownership(request, run)
        if refusal:
            return CheckOutcome(Status.FAIL, refusal, None)
        model_dir = work / "snapshot" / "model"
        if request.spec is not None:
            self.progress("certified training in a training runner …")
            privacy, reason = self._train(request, model_dir)
            if privacy is None:
                return CheckOutcome(Status.ERROR, reason, None)
        else:
            snapshot_model(self.store, request.run_id, model_dir)
            privacy = claimed_privacy(run)
        self._artifacts(run, work / "snapshot" / "artifacts")
        submission = SubmissionInput(
            submission_id=request.submission_id,
            scenario=request.scenario,
            partner=request.partner,
            submitter=request.submitter,
            submitted_at=request.submitted_at,
            run=run_record(run),
            privacy=privacy,
            spec_sha256=_spec_sha256(request.spec),
            approved_modules=tuple(self.approved_modules(request.scenario)),
        )
        self.progress("checks in a check runner …")
        outcome = self._check(request, work, model_dir, submission)
        self._attach(request.run_id, outcome)
        return outcome

    def _ownership(self, request: CheckRequest, run: RunInfo) -> str:
        expected = self.store.experiment_id(experiment_name(request.scenario, request.partner))
        if run.experiment_id != expected:
            return (
                f"run {run.run_id} is not in {experiment_name(request.scenario, request.partner)}: "
                "submit a run of this scenario's experiment"
            )
        if run.user_id != request.submitter:
            return f"run {run.run_id} was logged by {run.user_id}, not by {request.submitter}"
        if run.status != "FINISHED":
            return f"run {run.run_id} is {run.status}: finish the run before submitting it"
        return ""

    def _artifacts(self, run: RunInfo, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        root = artifact_path_of(run.artifact_uri)
        total = 0
        for item in self.store.list_artifacts(root):
            total += item.size
            if total > MAX_ARTIFACT_BYTES:
                raise ShuyuError(
                    f"run {run.run_id}: artifacts exceed {MAX_ARTIFACT_BYTES} bytes; log less"
                )
            path = target / item.path
            if not path.resolve().is_relative_to(target.resolve()):
                raise ShuyuError(f"run {run.run_id}: artifact path {item.path!r} leaves its folder")
            atomic_write_bytes(path, self.store.download(f"{root}/{item.path}"))

    def _train(self, request: CheckRequest, model_dir: Path) -> tuple[PrivacyStatement | None, str]:
        spec = json.dumps(request.spec, sort_keys=True).encode()
        job = RunnerJob(
            job_id=f"{request.submission_id}-train",
            kind=JobKind.TRAIN,
            command=["python", "-m", "shuyu.train.certified", "--scenario", request.scenario],
            inputs={"spec.json": spec},
            mounts=(
                VolumeMount(
                    self.settings.view_volume(request.scenario), str(view_mount(request.scenario))
                ),
            ),
            timeout_seconds=self.train_timeout,
        )
        result = self.executor.run(job)
        if result.outcome is not Outcome.SUCCEEDED:
            return None, f"certified training {result.outcome.value}: {result.reason}; " + (
                result.log_tail.strip().splitlines() or [""]
            )[-1]
        for name, data in result.outputs.items():
            if name.startswith("model/"):
                atomic_write_bytes(model_dir / name.removeprefix("model/"), data)
        privacy = PrivacyStatement.model_validate_json(result.outputs["privacy.json"])
        return privacy, ""

    def _check(
        self, request: CheckRequest, work: Path, model_dir: Path, submission: SubmissionInput
    ) -> CheckOutcome:
        inputs: dict[str, bytes | Path] = {"submission.json": submission.model_dump_json().encode()}
        for folder, prefix in (
            (model_dir, "model"),
            (work / "snapshot" / "artifacts", "artifacts"),
            (request.code_dir, "code"),
            # the thresholds in force now, as the service reads them
            (default_policies_dir(), "policies"),
        ):
            inputs.update(folder_inputs(folder, prefix))
        job = RunnerJob(
            job_id=f"{request.submission_id}-check",
            kind=JobKind.CHECK,
            command=["python", "-m", "shuyu.selfcheck.run"],
            inputs=inputs,
            env={"SHUYU_POLICIES": "/input/policies"},
            mounts=(
                VolumeMount(
                    self.settings.holdout_volume(request.scenario),
                    str(DATA_ROOT / request.scenario),
                ),
                VolumeMount(self.settings.fingerprints_volume, str(FINGERPRINTS_ROOT)),
            ),
            timeout_seconds=self.check_timeout,
            mem_limit="4G",
            cpu_limit=2.0,
        )
        result = self.executor.run(job)
        out = work / "out"
        for name, data in result.outputs.items():
            atomic_write_bytes(out / name, data)
        # what was checked, as reviewers read it beside the report (the run's metrics …)
        atomic_write_text(out / "submission.json", submission.model_dump_json(indent=1))
        files = {name: out / name for name in REPORT_FILES if (out / name).is_file()}
        if "report.json" not in files:
            tail = (result.log_tail.strip().splitlines() or [""])[-1]
            return CheckOutcome(
                Status.ERROR,
                f"the check runner {result.outcome.value}: {result.reason}; {tail}",
                None,
            )
        report = SelfCheckReport.model_validate_json(files["report.json"].read_text("utf-8"))
        return CheckOutcome(report.status, _reason(report), report, files, model_dir)

    def _attach(self, run_id: str, outcome: CheckOutcome) -> None:
        """The report goes with the partner's run (the gate may write a finished run)."""
        if not outcome.files:
            return
        run = self.store.get_run(run_id)
        root = artifact_path_of(run.artifact_uri)
        for name, path in outcome.files.items():
            self.store.upload(f"{root}/shuyu-selfcheck/{name}", path.read_bytes())
        digests = {n: file_sha256(p) for n, p in outcome.files.items()}
        atomic_write_text(
            outcome.files["report.json"].parent / "digests.json", json.dumps(digests, indent=1)
        )
        self.store.upload(
            f"{root}/shuyu-selfcheck/digests.json", json.dumps(digests, indent=1).encode()
        )


def _reason(report: SelfCheckReport) -> str:
    failed = [r for r in report.results if r.status in (Status.FAIL, Status.ERROR)]
    if not failed:
        return "所有检查通过 / all checks passed"
    return "; ".join(f"{r.id}: {r.summary_en}" for r in failed)[:2000]


def _spec_sha256(spec: dict[str, object] | None) -> str:
    return spec_sha256(parse_spec(spec, "spec")) if spec is not None else ""
