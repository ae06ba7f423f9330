"""Production runs as the service drives them, on SQLite and on PostgreSQL.

The runner and the registry are stand-ins that record what they were asked and answer
as the real ones do (tests/integration runs the real runners and MLflow); the state
machine, the refusals, the output check, the outbox and the schedule are the real code
on a real database, with APScheduler's real job store.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from shuyu.errors import InputError, ShuyuError
from shuyu.policy import load_policies
from shuyu.production import scheduler as production_scheduler
from shuyu.production.scheduler import ProductionScheduler, fire, occurrences
from shuyu.production.service import JobRequest, ProductionService
from shuyu.production.states import RunState
from shuyu.registry.approval import ApprovalRecord, LevelApproval
from shuyu.registry.approved import ApprovedModel, ModelChanged, NotApproved, VerifiedModel
from shuyu.registry.digests import sha256_bytes
from shuyu.review.service import Forbidden, Principal
from shuyu.runner.job import Outcome, RunnerJob, RunnerResult
from shuyu.store.database import Database
from shuyu.tracking.store_client import ModelVersion
from tests.unit.bank_credit_view import LABEL, write_bank_credit_view
from tests.unit.test_review_service import _service as review_service

POLICIES = load_policies()
TODAY = dt.date(2026, 11, 23)
MODEL = "bank_credit.suzhou_rcb"
ONNX = b"\x08\x07onnx-bytes"
RESIDENT_ID = "11010519491231002X"  # the standard's own example, a valid checksum

OPERATOR = Principal("op-zhang", frozenset({"operators"}))
OPERATOR2 = Principal("op-li", frozenset({"operators"}))
REVIEWER = Principal("rv-provider", frozenset({"reviewers", "reviewers_provider"}))
PARTNER = Principal("sz-credit", frozenset({"partners"}))


@functools.cache
def _view_files() -> dict[str, bytes]:
    """What a scenario's holdout volume holds: the view, train and holdout, labels too."""
    with tempfile.TemporaryDirectory() as tmp:
        write_bank_credit_view(Path(tmp), train_rows=30, holdout_rows=10)
        return {path.name: path.read_bytes() for path in Path(tmp).iterdir()}


def _coal_input() -> bytes:
    """A production-zone input of the coal report: one weighing a day for a year."""
    days = [dt.date(2025, 11, 24) + dt.timedelta(days=i) for i in range(365)]
    frame = pl.DataFrame(
        {
            "mine_name": ["mine:a"] * len(days),
            "weighed_at": days,
            "net_weight": [30.0] * len(days),
            "unit_price": [800.0] * len(days),
            "coal_type": ["thermal"] * len(days),
        }
    )
    out = io.BytesIO()
    frame.write_parquet(out)
    return out.getvalue()


def _notebook(printed: str) -> bytes:
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "id": "a1",
        "metadata": {},
        "source": "print(summary)",
        "outputs": [{"name": "stdout", "output_type": "stream", "text": printed}],
    }
    return json.dumps(
        {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    ).encode()


def _scores() -> bytes:
    rows = ["entity_id,score,risk_grade,factor_1,factor_2,factor_3"]
    rows += [f"enterprise:{i:016x},0.{i:02d},A,资产总额,," for i in range(40)]
    return ("\n".join(rows) + "\n").encode()


GOOD = {
    "scores.csv": _scores(),
    "run.ipynb": _notebook("已写出 40 行\n"),
    "run.html": b"<html><body><p>40 rows</p></body></html>",
}


@dataclass
class Runner:
    """Holds the in-domain volumes (name → files) and answers the notebook's runner
    with `outputs` (or with `exit_code`, as `shuyu.production.execute` exits)."""

    outputs: dict[str, bytes] = field(default_factory=lambda: dict(GOOD))
    exit_code: int = 0
    volumes: dict[str, dict[str, bytes]] = field(
        default_factory=lambda: {
            "test-holdout-bank_credit": _view_files(),
            "test-production-coal_market": {"input.parquet": _coal_input()},
        }
    )
    jobs: list[RunnerJob] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def read_volume(self, volume: str, *, max_bytes: int) -> dict[str, bytes]:
        self.read.append(volume)
        if volume not in self.volumes:  # as the Docker executor says it
            raise ShuyuError(f"volume {volume} does not exist: nothing was published to it")
        return dict(self.volumes[volume])

    def run(self, job: RunnerJob) -> RunnerResult:
        self.jobs.append(job)
        if self.exit_code:
            return RunnerResult(
                job.job_id,
                Outcome.FAILED,
                self.exit_code,
                f"exited with status {self.exit_code}",
                {},
                "DeadKernelError",
                0.1,
            )
        return RunnerResult(
            job.job_id, Outcome.SUCCEEDED, 0, "finished", dict(self.outputs), "", 0.2
        )

    def cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)

    def running(self) -> list[str]:
        return []


@dataclass
class Registry:
    """`approved` of MODEL, as `shuyu.registry.approved.load_approved_record` answers."""

    problem: Exception | None = None
    scenario: str = "bank_credit"

    def approved(self, model_name: str) -> ApprovedModel:
        if self.problem is not None:
            raise self.problem
        files = {"model.onnx": ONNX, "MLmodel": b"flavors: {}"}
        version = ModelVersion(
            model_name, "3", "mlflow-artifacts:/9/r/artifacts/model", "r", {}, ["approved"]
        )
        record = ApprovalRecord(
            submission_id="20261123-abcd0001",
            scenario=self.scenario,
            partner="suzhou_rcb",
            submitter="sz-credit",
            model_name=model_name,
            run_id="0" * 32,
            levels=[
                LevelApproval(
                    level="data_provider",
                    name="数据提供方",
                    reviewers=[("rv-provider", "2026-11-20T08:00:00")],
                )
            ],
            report_sha256="a" * 64,
            notebook_sha256="b" * 64,
            model_digests={k: sha256_bytes(v) for k, v in files.items()},
            privacy="certified ε=2.99 δ=1e-05",
        )
        return ApprovedModel(VerifiedModel(version, files), record)


@dataclass
class Clock:
    now: dt.datetime = dt.datetime(2026, 11, 23, 0, 0, 5, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


class Volumes:
    def holdout_volume(self, scenario_id: str) -> str:
        return f"test-holdout-{scenario_id}"

    def production_input_volume(self, scenario_id: str) -> str:
        return f"test-production-{scenario_id}"


@dataclass
class World:
    service: ProductionService
    runner: Runner
    registry: Registry
    clock: Clock
    notices: list[dict[str, object]]
    files: Path
    outbox: Path


@pytest.fixture
def world(database: Database, tmp_path: Path) -> World:
    runner, registry, clock, notices = Runner(), Registry(), Clock(), []
    service = ProductionService(
        database,
        lambda: POLICIES,
        tmp_path / "files",
        tmp_path / "outbox",
        executor=runner,
        models=registry,
        volumes=Volumes(),
        notify=notices.append,
        today=lambda: TODAY,
        now=clock,
    )
    return World(service, runner, registry, clock, notices, tmp_path / "files", tmp_path / "outbox")


def _job(world: World, **kw: object) -> str:
    request = JobRequest(scenario="bank_credit", model_name=MODEL, **kw)  # type: ignore[arg-type]
    return world.service.register_job(OPERATOR, request).id


def test_an_operators_run_is_checked_and_released_into_the_outbox_whole(world: World) -> None:
    job = _job(world, parameters={"run_date": "2026-11-23"})
    run = world.service.run_now(OPERATOR, job)
    assert run.state == "queued"
    assert world.service.run_pending() >= 1

    done = world.service.run(OPERATOR, run.id)
    assert done.state == RunState.RELEASED, done.reason
    assert done.model_version == "3"
    assert [(e.from_state, e.to_state) for e in done.history] == [
        ("", "queued"),
        ("queued", "running"),
        ("running", "checking"),
        ("checking", "released"),
    ]
    published = Path(done.outbox)
    assert sorted(p.name for p in published.iterdir()) == ["run.html", "run.ipynb", "scores.csv"]
    assert (published / "scores.csv").read_bytes() == GOOD["scores.csv"]
    assert not list(published.parent.glob(".*partial"))  # nothing half-written is left

    (notebook_job,) = world.runner.jobs
    assert world.runner.read == ["test-holdout-bank_credit"]  # by the service's own code
    assert notebook_job.mounts == ()  # the notebook sees the batch, never the view
    batch = pl.read_parquet(io.BytesIO(notebook_job.inputs["batch.parquet"]))  # type: ignore[arg-type]
    assert batch.height == 40  # every subject, train and holdout
    assert LABEL not in batch.columns  # and never the outcome
    spec = json.loads(notebook_job.inputs["run.json"])  # type: ignore[arg-type]
    assert spec["parameters"]["model_path"] == "/input/model/model.onnx"
    assert spec["parameters"]["model_uri"] == f"models:/{MODEL}@approved"
    assert spec["parameters"]["run_date"] == "2026-11-23"
    assert spec["start_timeout"] >= 60
    assert notebook_job.inputs["model/model.onnx"] == ONNX
    assert not any(k.upper().endswith(("TOKEN", "PASSWORD")) for k in notebook_job.env)


def test_a_changed_notebook_is_refused_before_anything_runs(world: World) -> None:
    job = _job(world)
    pinned = world.files / "jobs" / job / "production.ipynb"
    pinned.write_bytes(pinned.read_bytes().replace(b"scores.write_csv", b"batch.write_csv"))
    run = world.service.run_now(OPERATOR, job)
    world.service.run_pending()

    done = world.service.run(OPERATOR, run.id)
    assert (done.state, done.failure) == ("failed", "notebook_changed")
    assert "sha256" in done.reason
    assert world.runner.jobs == []


@pytest.mark.parametrize(
    ("problem", "failure"),
    [
        (
            NotApproved("bank_credit.suzhou_rcb v4: the version carries no approval record"),
            "not_approved",
        ),
        (
            ModelChanged("bank_credit.suzhou_rcb v3: model.onnx differs from what was approved"),
            "model_changed",
        ),
    ],
)
def test_a_model_without_approval_or_with_changed_files_is_refused(
    world: World, problem: Exception, failure: str
) -> None:
    job = _job(world)
    world.registry.problem = problem  # the alias moved, or the files changed, since
    run = world.service.run_now(OPERATOR, job)
    world.service.run_pending()
    done = world.service.run(OPERATOR, run.id)
    assert (done.state, done.failure) == ("failed", failure)
    assert str(problem) in done.reason
    assert world.runner.jobs == []


def test_an_expired_authorisation_refuses_the_run(world: World) -> None:
    job = _job(world)
    scenario = POLICIES.scenario("bank_credit")
    world.service.today = lambda: scenario.expires_on + dt.timedelta(days=1)
    run = world.service.run_now(OPERATOR, job)
    world.service.run_pending()
    done = world.service.run(OPERATOR, run.id)
    assert (done.state, done.failure) == ("failed", "authorisation_expired")


def test_a_notebook_that_prints_resident_ids_is_quarantined_until_a_reviewer_decides(
    world: World,
) -> None:
    world.runner.outputs["run.ipynb"] = _notebook(f"top subject: {RESIDENT_ID}\n")
    job = _job(world)
    run = world.service.run_now(OPERATOR, job)
    world.service.run_pending()

    done = world.service.run(OPERATOR, run.id)
    assert done.state == RunState.QUARANTINED
    assert "run.ipynb" in done.reason
    assert not (world.outbox / "bank_credit" / run.id).exists()
    assert any(n["recipient"] == "group:reviewers" for n in world.notices)  # the webhook
    pages, _, _ = review_service(world.service.db, world.files.parent)
    assert any(run.id in n["zh"] and "隔离" in n["zh"] for n in pages.notices(REVIEWER))
    assert any(run.id in n["zh"] for n in pages.notices(OPERATOR))  # and on their pages

    with pytest.raises(Forbidden):  # operators run jobs; they do not release them
        world.service.decide(OPERATOR, run.id, True, "我看过了")
    released = world.service.decide(REVIEWER, run.id, True, "身份证号为测试样例，允许发布")
    assert released.state == RunState.RELEASED
    assert (world.outbox / "bank_credit" / run.id / "run.ipynb").is_file()


def test_a_discarded_run_leaves_nothing_behind(world: World) -> None:
    world.runner.outputs["scores.csv"] = _scores().replace(
        b"enterprise:0000000000000000", RESIDENT_ID.encode()
    )
    job = _job(world)
    run = world.service.run_now(OPERATOR, job)
    world.service.run_pending()
    assert world.service.run(OPERATOR, run.id).state == RunState.QUARANTINED
    gone = world.service.decide(REVIEWER, run.id, False, "含身份证号，销毁")
    assert gone.state == RunState.DISCARDED
    assert gone.files == []
    assert not (world.outbox / "bank_credit" / run.id).exists()


def test_a_run_whose_view_was_never_published_fails_with_the_reason_and_starts_nothing(
    world: World,
) -> None:
    del world.runner.volumes["test-holdout-bank_credit"]
    job = _job(world, max_attempts=1)
    run = world.service.run_now(OPERATOR, job)
    world.service.run_pending()
    failed = world.service.run(OPERATOR, run.id)
    assert (failed.state, failed.failure) == ("failed", "runner_error")
    assert "building the input batch: volume test-holdout-bank_credit does not exist" in (
        failed.reason
    )
    assert world.runner.jobs == []  # no notebook runs without its batch


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({"view.json": b"{not json"}, ": view.json: not a valid view manifest"),
        ({"holdout.parquet": None}, ": holdout.parquet: missing from the volume"),
        ({"view.json": None, "train.parquet": None}, ": holds neither a view"),
    ],
)
def test_a_run_whose_view_volume_is_damaged_fails_naming_the_file(
    world: World, broken: dict[str, bytes | None], reason: str
) -> None:
    files = dict(_view_files())
    for name, content in broken.items():
        if content is None:
            files.pop(name)
        else:
            files[name] = content
    world.runner.volumes["test-holdout-bank_credit"] = files
    run = world.service.run_now(OPERATOR, _job(world, max_attempts=1))
    world.service.run_pending()
    failed = world.service.run(OPERATOR, run.id)
    assert failed.state == "failed"
    assert f"building the input batch: test-holdout-bank_credit{reason}" in failed.reason
    assert world.runner.jobs == []


def test_a_dead_kernel_is_retried_after_back_off_then_fails_with_its_reason(
    world: World,
) -> None:
    world.runner.exit_code = 3  # shuyu.production.execute: the kernel died
    job = _job(world, max_attempts=2)
    run = world.service.run_now(OPERATOR, job)
    world.service.run_pending()
    retry = world.service.run(OPERATOR, run.id)
    assert (retry.state, retry.failure, retry.attempt) == ("queued", "kernel_died", 1)
    assert "retry in 30 s" in retry.reason

    world.service.run_pending()  # not due yet: nothing happens
    assert world.service.run(OPERATOR, run.id).attempt == 1
    world.clock.now += dt.timedelta(seconds=31)
    world.service.run_pending()
    failed = world.service.run(OPERATOR, run.id)
    assert (failed.state, failed.failure, failed.attempt) == ("failed", "kernel_died", 2)
    assert any("failed" in str(n["text_en"]) for n in world.notices)


def test_a_run_a_restart_interrupted_is_cancelled_and_retried_never_left_running(
    world: World, database: Database
) -> None:
    job = _job(world)
    run = world.service.run_now(OPERATOR, job)
    from shuyu.production.tables import ProductionRunRow  # noqa: PLC0415

    with database.session(write=True) as session:  # as a killed service leaves it
        row = session.get(ProductionRunRow, run.id)
        assert row is not None
        row.state, row.attempt = "running", 1
    assert world.service.resume_after_restart() == 1
    assert world.runner.cancelled == [f"{run.id}-a1-notebook"]
    after = world.service.run(OPERATOR, run.id)
    assert (after.state, after.failure) == ("queued", "lost")


def test_only_operators_register_and_run_jobs_and_partners_see_no_runs(world: World) -> None:
    request = JobRequest(scenario="bank_credit", model_name=MODEL)
    with pytest.raises(Forbidden):
        world.service.register_job(PARTNER, request)
    with pytest.raises(Forbidden):
        world.service.register_job(REVIEWER, request)
    job = _job(world)
    with pytest.raises(Forbidden):
        world.service.run_now(PARTNER, job)
    with pytest.raises(Forbidden):
        world.service.runs(PARTNER)


def test_a_job_needs_a_model_approved_for_its_scenario_and_a_valid_schedule(
    world: World,
) -> None:
    world.registry.scenario = "health_underwriting"
    with pytest.raises(Exception, match="approved for health_underwriting"):
        _job(world)
    world.registry.scenario = "bank_credit"
    with pytest.raises(Exception, match="cron"):
        _job(world, cron="every morning")
    world.registry.problem = NotApproved(f"{MODEL} has no version with alias 'approved'")
    with pytest.raises(Exception, match="no version with alias"):
        _job(world)


def test_a_report_job_runs_no_model_on_its_window_of_the_production_zone(
    world: World,
) -> None:
    with pytest.raises(InputError, match="runs no model"):
        world.service.register_job(OPERATOR, JobRequest(scenario="coal_market", model_name=MODEL))
    with pytest.raises(InputError, match="period"):
        world.service.register_job(
            OPERATOR, JobRequest(scenario="coal_market", parameters={"period": "hourly"})
        )
    with pytest.raises(InputError, match="name its approved model"):
        world.service.register_job(OPERATOR, JobRequest(scenario="bank_credit"))
    job = world.service.register_job(
        OPERATOR, JobRequest(scenario="coal_market", parameters={"period": "weekly"})
    )
    world.service.run_now(OPERATOR, job.id)
    world.service.run_pending()

    (notebook_job,) = world.runner.jobs
    assert world.runner.read == ["test-production-coal_market"]
    # the run's own day (CST) when the job names none: 26 weeks back to it
    batch = pl.read_parquet(io.BytesIO(notebook_job.inputs["batch.parquet"]))  # type: ignore[arg-type]
    days = batch["weighed_at"]
    assert (days.min(), days.max()) == (dt.date(2026, 5, 26), dt.date(2026, 11, 23))
    assert batch.height == 26 * 7
    spec = json.loads(notebook_job.inputs["run.json"])  # type: ignore[arg-type]
    assert spec["parameters"]["run_date"] == "2026-11-23"
    assert "model_path" not in spec["parameters"]
    assert not any(name.startswith("model/") for name in notebook_job.inputs)


def test_a_schedule_queues_one_run_per_time_and_reports_the_times_it_missed(
    world: World,
) -> None:
    created = world.clock.now
    job = _job(world, cron="*/10 * * * *")
    # the service was down for 35 minutes: three occurrences passed, the last is run
    world.clock.now = created + dt.timedelta(minutes=35)
    production_scheduler._current = world.service
    try:
        fire(job, "*/10 * * * *")
        fire(job, "*/10 * * * *")  # fired again (a restart): still one run for that time
    finally:
        production_scheduler._current = None
    runs = world.service.runs(OPERATOR, job)
    assert [(r.trigger, r.scheduled_for) for r in runs] == [
        ("schedule", "2026-11-23T00:30:00.000000+00:00")
    ]
    missed = [n for n in world.notices if "missed" in str(n["text_en"])]
    assert len(missed) == 2  # 00:10 and 00:20, each said


def test_occurrences_are_china_standard_time() -> None:
    after = dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC)  # 07:00 in Beijing
    found = occurrences("0 8 * * *", after, after + dt.timedelta(days=1))
    assert [t.astimezone(dt.UTC).hour for t in found] == [0]  # 08:00 CST is 00:00 UTC


def test_the_schedule_is_kept_in_the_database_across_a_restart(
    world: World, database: Database
) -> None:
    job = _job(world, cron="0 8 * * mon-fri")
    first = ProductionScheduler(world.service, database.engine.url.render_as_string(False))
    first.start()
    try:
        assert [j.id for j in first.scheduler.get_jobs()] == [job]
        next_time = first.scheduler.get_job(job).next_run_time
    finally:
        first.shutdown()
    again = ProductionScheduler(world.service, database.engine.url.render_as_string(False))
    again.scheduler.start(paused=True)  # as after a restart, before sync
    try:
        kept = again.scheduler.get_job(job)
        assert kept is not None
        assert kept.next_run_time == next_time
        world.service.set_enabled(OPERATOR, job, False)
        again.sync()
        assert again.scheduler.get_jobs() == []  # a disabled job is not scheduled
    finally:
        again.scheduler.shutdown(wait=False)


def test_the_production_pages_and_api_are_for_operators_and_reviewers_only(
    world: World, database: Database, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from shuyu.web.app import create_app  # noqa: PLC0415
    from shuyu.web.auth import HubIdentity  # noqa: PLC0415
    from tests.unit.test_review_service import _service  # noqa: PLC0415
    from tests.unit.test_web_routes import PREFIX, HubTokens  # noqa: PLC0415

    access = {"access:services!service=shuyu"}
    tokens = HubTokens(
        {"op": (OPERATOR, access), "rv": (REVIEWER, access), "partner": (PARTNER, access)}
    )
    review, _, _ = _service(database, tmp_path)
    app = create_app(
        review,
        HubIdentity(tokens, PREFIX, secure_cookies=False),
        prefix=PREFIX,
        production=world.service,
    )
    client = TestClient(app, base_url="https://hub.test")
    api = f"{PREFIX}api/v1/production"
    body = {"scenario": "bank_credit", "model_name": MODEL}

    assert client.post(f"{api}/jobs", json=body).status_code == 401
    assert (
        client.post(
            f"{api}/jobs", json=body, headers={"Authorization": "token partner"}
        ).status_code
        == 403
    )
    made = client.post(f"{api}/jobs", json=body, headers={"Authorization": "token op"})
    assert made.status_code == 201, made.text
    job = made.json()["id"]
    assert client.get(f"{api}/runs", headers={"Authorization": "token partner"}).status_code == 403
    started = client.post(f"{api}/jobs/{job}/run", headers={"Authorization": "token rv"})
    assert started.status_code == 403  # reviewers decide on outputs; they do not run jobs
    run = client.post(f"{api}/jobs/{job}/run", headers={"Authorization": "token op"}).json()
    world.service.run_pending()
    report = client.get(
        f"{api}/runs/{run['id']}/files/run.html", headers={"Authorization": "token rv"}
    )
    assert report.status_code == 200
    assert report.headers["Content-Security-Policy"].startswith("sandbox")
    escape = client.get(
        f"{api}/runs/{run['id']}/files/..%2F..%2Fjobs%2F{job}%2Fproduction.ipynb",
        headers={"Authorization": "token op"},
    )
    assert escape.status_code == 404  # only what the run wrote

    page = client.get(f"{PREFIX}production", headers={"Authorization": "token op"})
    assert page.status_code == 200, page.text[:500]
    assert "生产任务" in page.text
    assert job in page.text
