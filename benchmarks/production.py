"""A production run through the whole path against the same notebook as a plain script.

Builds the bank-credit demo view at BENCH_SCALE enterprises (default 20 000), publishes
it to its volumes, trains a small model (not privately: the model's quality is not what
is measured) and exports it to ONNX as shuyu.train does. Then, ROUNDS times each,
interleaved:

- path: `ProductionService` as the service runs it — queued, refused-or-started, the
  batch built by the service from the view volume's files (read through a container
  that never starts), the notebook run with papermill in a runner, the output check,
  the outbox — on SQLite, with the real Docker executor and the service's one warm
  runner (`warm_runners`, default 1: started before the run, papermill imported and the
  kernel booted; the next one starts behind it, and is ready before the next round as
  it would be between a service's runs);
- cold: the same path with no warm runner (`warm_runners=0`), for comparison;
- plain: the notebook's code exported by nbconvert as a Python script, run with
  `python` in one runner of the same image, on the same batch and model.

The approved model is read from a local file here (the registry read is a few small
HTTP calls and not what is measured). The best round of each is compared.
Last line: ratio=X.XX (path / plain; goal ≤ 1.5).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbconvert import PythonExporter

from shuyu.data.pipeline import build_demo_views
from shuyu.policy import load_policies
from shuyu.policy.load import default_policies_dir
from shuyu.policy.models import Policies
from shuyu.production.inputs import view_batch
from shuyu.production.service import NOTEBOOK_RUNNER, JobRequest, ProductionService, RunView
from shuyu.registry.approval import ApprovalRecord, LevelApproval
from shuyu.registry.approved import ApprovedModel, VerifiedModel
from shuyu.registry.digests import sha256_bytes
from shuyu.review.service import Principal
from shuyu.runner.docker_executor import DockerExecutor
from shuyu.runner.job import Executor, JobKind, Outcome, RunnerJob, folder_inputs
from shuyu.runner.warm_pool import WarmPool
from shuyu.sandbox.volumes import publish_views
from shuyu.settings import PlatformSettings, ServiceSettings
from shuyu.store.database import Database
from shuyu.tracking.store_client import ModelVersion
from shuyu.train.export import save_onnx
from shuyu.train.private import fit
from shuyu.train.view import load_view

SCALE = int(os.environ.get("BENCH_SCALE", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SCENARIO = "bank_credit"
MODEL = "bank_credit.bench"
OPERATOR = Principal("op-bench", frozenset({"operators"}))
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks/scenarios/bank_credit/production.ipynb"


class LocalModel:
    def __init__(self, onnx: bytes) -> None:
        files = {"model.onnx": onnx}
        version = ModelVersion(MODEL, "1", "local", "", {}, ["approved"])
        record = ApprovalRecord(
            submission_id="bench",
            scenario=SCENARIO,
            partner="suzhou_rcb",
            submitter="bench",
            model_name=MODEL,
            run_id="0" * 32,
            levels=[LevelApproval(level="bench", name="bench", reviewers=[("bench", "-")])],
            report_sha256="",
            notebook_sha256="",
            model_digests={k: sha256_bytes(v) for k, v in files.items()},
            privacy="none",
        )
        self.model = ApprovedModel(VerifiedModel(version, files), record)

    def approved(self, model_name: str) -> ApprovedModel:
        return self.model


def plain_script(parameters: dict[str, object]) -> bytes:
    """The notebook's code as one script, its parameters cell replaced by the values."""
    node = nbformat.read(str(NOTEBOOK), as_version=4)  # type: ignore[no-untyped-call]
    for cell in node.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    script, _ = PythonExporter().from_notebook_node(node)  # type: ignore[no-untyped-call]
    # a notebook's last bare expression is displayed; in a script it is just evaluated
    return script.encode()


def main() -> int:
    policies = load_policies()
    settings = PlatformSettings.from_env().model_copy(
        update={"project": f"shuyu-bench-{secrets.token_hex(3)}"}
    )
    image = ServiceSettings.from_env().runner_image
    executor = DockerExecutor(settings, image, require_firewall=False)
    pool = WarmPool(executor, NOTEBOOK_RUNNER, size=1)
    pool.start()
    try:
        return measure(policies, settings, executor, pool)
    finally:
        pool.stop()
        remove_volumes(settings)


def measure(
    policies: Policies, settings: PlatformSettings, executor: DockerExecutor, pool: WarmPool
) -> int:
    with tempfile.TemporaryDirectory(prefix="shuyu-bench-production.") as tmp:
        root = Path(tmp)
        started = time.monotonic()
        views = build_demo_views(
            root / "demo", policies, key=os.urandom(32), scale=SCALE, seed=11, scenario=SCENARIO
        )
        publish_views(views, settings, [SCENARIO])
        view = load_view(views / SCENARIO)
        model = root / "model.onnx"
        save_onnx(fit(view, epochs=2, batch_size=256, private=False), model)
        batch = view_batch(views / SCENARIO)
        batch_file = root / "batch.parquet"
        batch.write_parquet(batch_file)
        setup = time.monotonic() - started
        print(f"{SCENARIO}: {batch.height} subjects to score; set-up {setup:.1f} s")
        db = Database(f"sqlite:///{root / 'state.sqlite'}")
        db.upgrade()

        def production(runners: Executor) -> ProductionService:
            return ProductionService(
                db,
                lambda: policies,
                root / "files",
                root / "outbox",
                executor=runners,
                models=LocalModel(model.read_bytes()),
                volumes=settings,
            )

        service, cold = production(pool), production(executor)
        job = service.register_job(
            OPERATOR,
            JobRequest(scenario=SCENARIO, model_name=MODEL, parameters={"run_date": "2026-07-01"}),
        )
        parameters: dict[str, object] = {
            "run_date": "2026-07-01",
            "model_uri": f"models:/{MODEL}@approved",
            "model_path": "/input/model/model.onnx",
            "input_batch": "/input/batch.parquet",
            "period": "daily",
            "output_dir": ".",
        }
        script = plain_script(parameters)
        path_times: list[float] = []
        cold_times: list[float] = []
        plain_times: list[float] = []
        for round_no in range(ROUNDS):
            if not pool.wait_ready(120):
                print("no warm runner came up in 120 s")
                return 1
            done = timed_run(service, job.id, path_times)
            if done is None:
                return 1
            stamps = {e.to_state: dt.datetime.fromisoformat(e.ts) for e in done.history}
            running = (stamps["checking"] - stamps["running"]).total_seconds()
            check = (stamps["released"] - stamps["checking"]).total_seconds()
            pool.wait_ready(120)  # the next warm runner starts behind the run: let it
            if timed_run(cold, job.id, cold_times) is None:
                return 1
            t0 = time.monotonic()
            plain = executor.run(
                RunnerJob(
                    job_id=f"bench-plain-{round_no}-{secrets.token_hex(3)}",
                    kind=JobKind.PRODUCTION,
                    command=["python", "/input/script.py"],
                    inputs={
                        "script.py": script,
                        "batch.parquet": batch_file,
                        "model/model.onnx": model,
                        **folder_inputs(default_policies_dir(), "policies"),
                    },
                    env={"SHUYU_POLICIES": "/input/policies"},
                    timeout_seconds=1800,
                )
            )
            plain_times.append(time.monotonic() - t0)
            if plain.outcome is not Outcome.SUCCEEDED or "scores.csv" not in plain.outputs:
                print(f"the plain script {plain.outcome.value}: {plain.log_tail[-2000:]}")
                return 1
            print(
                f"round {round_no + 1}: path {path_times[-1]:.2f} s "
                f"(batch and runner {running:.2f} s, output check and outbox {check:.2f} s), "
                f"cold {cold_times[-1]:.2f} s, plain {plain_times[-1]:.2f} s"
            )
        best_path, best_cold, best_plain = min(path_times), min(cold_times), min(plain_times)
        print(
            f"path: best {best_path:.2f} s, median {statistics.median(path_times):.2f} s "
            "(queue, batch, papermill on a warm runner, output check, outbox)"
        )
        cold_ratio = best_cold / best_plain
        print(f"path with no warm runner: best {best_cold:.2f} s (ratio {cold_ratio:.2f})")
        print(f"plain script in the same image: best {best_plain:.2f} s")
        print(f"ratio={best_path / best_plain:.2f}")
    return 0


def timed_run(service: ProductionService, job_id: str, times: list[float]) -> RunView | None:
    """One run now, its wall time appended to `times`; None (said why) unless released."""
    t0 = time.monotonic()
    run = service.run_now(OPERATOR, job_id)
    service.run_pending()
    done = service.run(OPERATOR, run.id)
    times.append(time.monotonic() - t0)
    if done.state != "released":
        print(f"the run ended {done.state}: {done.reason}\n{done.log_tail[-2000:]}")
        return None
    return done


def remove_volumes(settings: PlatformSettings) -> None:
    from shuyu import docker_engine  # noqa: PLC0415

    engine = docker_engine.client()
    for name in (settings.view_volume(SCENARIO), settings.holdout_volume(SCENARIO)):
        for volume in engine.volumes.list(filters={"name": name}):
            volume.remove(force=True)


if __name__ == "__main__":
    sys.exit(main())
