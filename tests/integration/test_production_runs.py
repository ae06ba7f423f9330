"""Production runs in real runner containers: the schedule, papermill, the output check.

Against the real engine and the runner image: a bank-credit view built by the real
pipeline and published to its volumes, a model trained and exported by shuyu.train. The
approved model is read from that file here (the registry's side — the copy, the
signed record, `load_approved_record` — runs against a real MLflow in
test_review_flow.py, which also runs a released job on the whole platform).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from shuyu import docker_engine
from shuyu.data.pipeline import build_demo_views
from shuyu.packages.checks import check_wheels
from shuyu.packages.desk import PackageAsk, PackageDesk
from shuyu.policy import load_policies
from shuyu.production.packages import ApprovedWheels
from shuyu.production.scenario_notebooks import PRODUCTION, scenario_notebooks_dir
from shuyu.production.scheduler import ProductionScheduler
from shuyu.production.service import NOTEBOOK_RUNNER, JobRequest, ProductionService
from shuyu.production.zone import build_production_inputs
from shuyu.registry.approval import ApprovalRecord, LevelApproval
from shuyu.registry.approved import ApprovedModel, VerifiedModel
from shuyu.registry.digests import sha256_bytes
from shuyu.review.service import Principal
from shuyu.runner.docker_executor import DockerExecutor
from shuyu.runner.warm_pool import WarmPool
from shuyu.sandbox.volumes import publish_production_inputs, publish_views
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database
from shuyu.tracking.store_client import ModelVersion
from shuyu.train.export import save_onnx
from shuyu.train.private import fit
from shuyu.train.view import load_view
from tests.wheels import make_wheel

pytestmark = pytest.mark.integration

POLICIES = load_policies()
SETTINGS = PlatformSettings(project="prodtest")
RUNNER_IMAGE = "shuyu/runner:local"
SCENARIO = "bank_credit"
MODEL = "bank_credit.suzhou_rcb"
OPERATOR = Principal("op-runner", frozenset({"operators"}))
RESIDENT_ID = "11010519491231002X"


@dataclass(frozen=True)
class FileModel:
    """`approved` as a verified registry version would be, from one ONNX file."""

    onnx: bytes

    def approved(self, model_name: str) -> ApprovedModel:
        files = {"model.onnx": self.onnx}
        record = ApprovalRecord(
            submission_id="20261201-test0001",
            scenario=SCENARIO,
            partner="suzhou_rcb",
            submitter="sz-credit",
            model_name=model_name,
            run_id="0" * 32,
            levels=[LevelApproval(level="data_bureau", name="数据局", reviewers=[("rv", "-")])],
            report_sha256="",
            notebook_sha256="",
            model_digests={k: sha256_bytes(v) for k, v in files.items()},
            privacy="certified ε=3.00 δ=1e-05",
        )
        version = ModelVersion(model_name, "1", "", "", {}, ["approved"])
        return ApprovedModel(VerifiedModel(version, files), record)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    """The view in its volumes (the service reads the holdout volume) and a model."""
    root = tmp_path_factory.mktemp("production-world")
    views = build_demo_views(
        root, POLICIES, key=bytes(range(32)), scale=400, seed=5, scenario=SCENARIO
    )
    publish_views(views, SETTINGS, [SCENARIO])
    exported = root / "model.onnx"
    save_onnx(fit(load_view(views / SCENARIO), epochs=2, batch_size=64, private=False), exported)
    try:
        yield exported.read_bytes()
    finally:
        engine = docker_engine.client()
        for name in (
            SETTINGS.view_volume(SCENARIO),
            SETTINGS.holdout_volume(SCENARIO),
            SETTINGS.production_input_volume("coal_market"),
        ):
            for volume in engine.volumes.list(filters={"name": name}):
                volume.remove(force=True)


@pytest.fixture(scope="module")
def runners() -> Iterator[WarmPool]:
    """The runners as the service keeps them: one started ahead, the next behind it."""
    pool = WarmPool(
        DockerExecutor(SETTINGS, RUNNER_IMAGE, require_firewall=False), NOTEBOOK_RUNNER, size=1
    )
    pool.start()
    try:
        yield pool
    finally:
        pool.stop()


def _notebooks(tmp_path: Path, extra_cell: str = "") -> Path:
    """A copy of the scenario notebooks, the production one with a cell added at its end."""
    root = tmp_path / "notebooks"
    shutil.copytree(scenario_notebooks_dir() / SCENARIO, root / SCENARIO)
    if extra_cell:
        path = root / SCENARIO / PRODUCTION
        node = json.loads(path.read_text(encoding="utf-8"))
        node["cells"].append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "added-by-test",
                "metadata": {},
                "outputs": [],
                "source": extra_cell,
            }
        )
        path.write_text(json.dumps(node, ensure_ascii=False), encoding="utf-8")
    return root


def _service(
    tmp_path: Path, model: bytes, notebooks: Path, runners: WarmPool, **kw: object
) -> ProductionService:
    db = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
    db.upgrade()
    return ProductionService(
        db,
        lambda: POLICIES,
        tmp_path / "files",
        tmp_path / "outbox",
        executor=runners,
        models=FileModel(model),
        volumes=SETTINGS,
        notebooks=notebooks,
        **kw,  # type: ignore[arg-type]
    )


def _job(service: ProductionService, **kw: object) -> str:
    request = JobRequest(
        scenario=SCENARIO,
        model_name=MODEL,
        parameters={"run_date": "2026-07-01", "period": "daily"},
        **kw,  # type: ignore[arg-type]
    )
    return service.register_job(OPERATOR, request).id


def test_a_scheduled_run_fires_after_a_restart_and_releases_scores_with_a_report(
    tmp_path: Path, model: bytes, runners: WarmPool
) -> None:
    notebooks = _notebooks(tmp_path)
    first = _service(tmp_path, model, notebooks, runners)
    job = _job(first, cron="* * * * *")
    url = first.db.engine.url.render_as_string(hide_password=False)
    scheduler = ProductionScheduler(first, url)
    scheduler.start()
    scheduler.shutdown()  # the service stops before the schedule's time comes

    again = _service(tmp_path, model, notebooks, runners)  # the service after its restart
    restarted = ProductionScheduler(again, url)
    restarted.start()
    try:
        deadline = time.monotonic() + 90
        while not (runs := again.runs(OPERATOR, job)):
            assert time.monotonic() < deadline, "the schedule did not fire after the restart"
            time.sleep(1)
    finally:
        restarted.shutdown()
    assert [r.trigger for r in runs] == ["schedule"]
    again.run_pending()

    done = again.run(OPERATOR, runs[0].id)
    assert done.state == "released", (done.reason, done.log_tail[-3000:])
    published = Path(done.outbox)
    assert (published / "scores.csv").read_text(encoding="utf-8").startswith("entity_id,score")
    report = (published / "run.html").read_text(encoding="utf-8")
    assert "已写出" in report  # the notebook's own output, its code hidden
    assert "scoring.explain" not in report
    assert float(done.seconds) > 0


def _approved_package(service: ProductionService, wheel: Path) -> None:
    """tiny-stats asked, approved and published as the host's fetch publishes it."""
    desk = PackageDesk(service.db, lambda: POLICIES, lambda: dt.date(2026, 11, 23))
    ask = PackageAsk(name="tiny-stats", version="1.2.0", scenario=SCENARIO, purpose="基线评分模型")
    asked = desk.request(Principal("sz-credit", frozenset({"partners"})), ask)
    desk.decide(Principal("admin", frozenset({"admins"})), asked.id, approve=True, note="")
    checked = check_wheels(wheel.parent, POLICIES.sandbox.packages, {})
    desk.fetched(asked.id, files=[record for _path, record in checked.publish])
    docker_engine.fill_volume(
        SETTINGS.packages_volume,
        {wheel.name: wheel},
        image=RUNNER_IMAGE,
        labels={"org.shuyu.project": SETTINGS.project},
    )


@pytest.fixture
def packages() -> Iterator[str]:
    try:
        yield SETTINGS.packages_volume
    finally:
        for volume in docker_engine.client().volumes.list(
            filters={"name": SETTINGS.packages_volume}
        ):
            volume.remove(force=True)


def test_a_notebook_that_imports_an_approved_package_runs_with_it_installed(
    tmp_path: Path, model: bytes, runners: WarmPool, packages: str
) -> None:
    wheel = make_wheel(tmp_path / "wheels", "tiny-stats", "1.2.0")
    notebooks = _notebooks(
        tmp_path, "import tiny_stats\nprint('tiny_stats', tiny_stats.VERSION, tiny_stats.__file__)"
    )
    service = _service(tmp_path, model, notebooks, runners, packages=_wheels(tmp_path, packages))
    _approved_package(service, wheel)
    run = service.run_now(OPERATOR, _job(service))
    service.run_pending()

    done = service.run(OPERATOR, run.id)
    assert done.state == "released", (done.reason, done.log_tail[-3000:])
    report = (Path(done.outbox) / "run.html").read_text(encoding="utf-8")
    # installed where a sandbox installs it, under the runner's own tmpfs home
    assert "tiny_stats 1.2.0 /tmp/shuyu-home/.local/lib/python3.11/site-packages/" in report


def test_an_approved_wheel_changed_in_the_volume_is_not_installed(
    tmp_path: Path, model: bytes, runners: WarmPool, packages: str
) -> None:
    wheel = make_wheel(tmp_path / "wheels", "tiny-stats", "1.2.0")
    notebooks = _notebooks(tmp_path, "import tiny_stats")
    service = _service(tmp_path, model, notebooks, runners, packages=_wheels(tmp_path, packages))
    _approved_package(service, wheel)
    swapped = make_wheel(tmp_path / "swapped", "tiny-stats", "1.2.0", extra={"evil.py": b"1"})
    docker_engine.fill_volume(
        packages,
        {wheel.name: swapped},
        image=RUNNER_IMAGE,
        labels={"org.shuyu.project": SETTINGS.project},
    )
    run = service.run_now(OPERATOR, _job(service, max_attempts=1))
    service.run_pending()

    done = service.run(OPERATOR, run.id)
    assert done.state == "failed"
    assert "tiny_stats-1.2.0-py3-none-any.whl" in done.reason
    assert "not installed" in done.reason


def _wheels(tmp_path: Path, volume: str) -> ApprovedWheels:
    db = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
    db.upgrade()
    return ApprovedWheels(PackageDesk(db, lambda: POLICIES, lambda: dt.date(2026, 11, 23)), volume)


def test_a_notebook_that_prints_resident_ids_is_quarantined(
    tmp_path: Path, model: bytes, runners: WarmPool
) -> None:
    notebooks = _notebooks(tmp_path, f'print("最高风险主体 {RESIDENT_ID}")')
    service = _service(tmp_path, model, notebooks, runners)
    run = service.run_now(OPERATOR, _job(service))
    service.run_pending()

    done = service.run(OPERATOR, run.id)
    assert done.state == "quarantined", done.reason
    assert "run.ipynb" in done.reason
    assert not (tmp_path / "outbox" / SCENARIO / run.id).exists()


def test_a_kernel_killed_mid_run_ends_as_failed_with_the_reason(
    tmp_path: Path, model: bytes, runners: WarmPool
) -> None:
    notebooks = _notebooks(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    service = _service(tmp_path, model, notebooks, runners)
    run = service.run_now(OPERATOR, _job(service, max_attempts=1))
    service.run_pending()

    done = service.run(OPERATOR, run.id)
    assert (done.state, done.failure) == ("failed", "kernel_died"), done.reason
    assert "内核" in done.reason


def test_refusals_start_nothing(tmp_path: Path, model: bytes, runners: WarmPool) -> None:
    notebooks = _notebooks(tmp_path)
    service = _service(tmp_path, model, notebooks, runners)
    job = _job(service)
    pinned = tmp_path / "files" / "jobs" / job / PRODUCTION
    pinned.write_text(pinned.read_text(encoding="utf-8") + " ", encoding="utf-8")
    changed = service.run_now(OPERATOR, job)
    service.run_pending()
    assert service.run(OPERATOR, changed.id).failure == "notebook_changed"

    (tmp_path / "later").mkdir()
    late = _service(
        tmp_path / "later",
        model,
        notebooks,
        runners,
        today=lambda: POLICIES.scenario(SCENARIO).expires_on + dt.timedelta(days=1),
    )
    expired = late.run_now(OPERATOR, _job(late))
    late.run_pending()
    assert late.run(OPERATOR, expired.id).failure == "authorisation_expired"
    found = docker_engine.client().containers.list(
        all=True, filters={"label": [f"org.shuyu.project={SETTINGS.project}"]}
    )
    # nothing but the runner kept waiting, which took no job
    assert [c.name for c in found if not c.name.startswith(f"{SETTINGS.project}-warm-")] == []
    assert runners.ready() == 1


def test_a_coal_report_publishes_tables_whose_small_cells_are_suppressed_with_margins_kept(
    tmp_path: Path, model: bytes, runners: WarmPool
) -> None:
    """The report product: no model; the production zone built on the host (masked with
    the key there), its window cut by the service, the tables suppressed and their
    margins recomputed by the notebook — and rebuilt from the batch by the output check
    before anything is released."""
    key = bytes(range(32))
    build_demo_views(
        tmp_path / "coal", POLICIES, key=key, scale=400, seed=5, scenario="coal_market"
    )
    inputs = build_production_inputs(tmp_path / "coal", POLICIES, key=key)
    publish_production_inputs(inputs, SETTINGS)
    zone = pl.read_parquet(inputs["coal_market"])
    assert zone.get_column("mine_name").str.starts_with("coal_mine:").all()  # pseudonyms
    last_day = zone.get_column("weighed_at").max()
    assert isinstance(last_day, dt.date)
    service = _service(tmp_path, model, scenario_notebooks_dir(), runners)
    job = service.register_job(
        OPERATOR,
        JobRequest(
            scenario="coal_market",
            parameters={"run_date": last_day.isoformat(), "period": "monthly"},
        ),
    )
    run = service.run_now(OPERATOR, job.id)
    service.run_pending()

    done = service.run(OPERATOR, run.id)
    assert done.state == "released", (done.reason, done.log_tail[-3000:])
    published = Path(done.outbox)
    for name in ("tables/tonnage.csv", "tables/price.csv", "report.md", "charts/tonnage.png"):
        assert (published / name).is_file(), name
    executed = (published / "run.ipynb").read_text(encoding="utf-8")
    suppressed = [
        int(n) for n in re.findall(r"tables/tonnage\.csv：\d+ 行，抑制 (\d+) 个单元格", executed)
    ]
    assert suppressed  # the notebook said how many cells each table suppressed
    assert suppressed[0] > 0  # small cells at this scale, and they were cut
    tonnage = pl.read_csv(
        published / "tables" / "tonnage.csv", schema_overrides={"period": pl.String}
    )
    assert tonnage.get_column("tonnage_t").null_count() >= suppressed[0]
    verdict = json.loads((tmp_path / "files" / "runs" / run.id / "verdict.json").read_text("utf-8"))
    disclosure = [
        r for f in verdict["files"] for r in f["results"] if r["id"] == "output.disclosure"
    ]
    assert len(disclosure) == 3  # every table rebuilt from the batch: cells and margins
    assert {r["status"] for r in disclosure} == {"pass"}
