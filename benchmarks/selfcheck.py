"""The full security self-check of the bank-credit model against one training epoch of it.

Builds the demo data at BENCH_SCALE (default 125 000 enterprises: a bank-credit view of
~85 000 training rows and its holdout) and the row fingerprints of the raw and masked
tables, then trains the model as certified training does (a spec through shuyu's DP
trainer), saves it in MLflow's ONNX flavour as the training runner does, and runs what a
check runner runs on it — every registered check, then the bilingual report (papermill
and nbconvert) — in this process. Prints the per-check breakdown.

- checks:   the self-check's wall time (all checks + the report);
- baseline: one epoch of the same model's DP training, the mean over its epochs;
- certified training itself is reported beside the ratio, not in it.

Last line: `ratio=X.XX` = checks / one epoch (goal ≤ 10; and the checks under 60 s).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import mlflow.onnx
import torch

from shuyu.data.pipeline import build_demo_views, fingerprint_tables
from shuyu.data.view_manifest import read_manifest
from shuyu.policy import load_policies
from shuyu.selfcheck.context import CheckContext, DatasetInput, RunRecord, SubmissionInput
from shuyu.selfcheck.run import examine, notebooks_dir, render
from shuyu.train.certified import privacy_of
from shuyu.train.export import to_onnx
from shuyu.train.spec import parse_spec, spec_sha256
from shuyu.train.spec_training import fit_spec
from shuyu.train.tracking import signature
from shuyu.train.view import load_view

SCALE = int(os.environ.get("BENCH_SCALE", "125000"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
SCENARIO = "bank_credit"
SPEC = {"model": "mlp", "epochs": 3, "batch_size": 512, "learning_rate": 0.5, "seed": 0}
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": 1,
            "id": "train",
            "metadata": {},
            "outputs": [],
            "source": "import shuyu\nshuyu.submit(run_id, 'bank_credit', spec='spec.yaml')",
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def main() -> None:
    torch.set_num_threads(THREADS)
    policies = load_policies()
    with tempfile.TemporaryDirectory(prefix="shuyu-bench-selfcheck.") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        views = build_demo_views(
            root / "data", policies, key=secrets.token_bytes(32), scale=SCALE, seed=11
        )
        fingerprint_tables(root / "data", policies)
        print(f"demo data and fingerprints: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        view_dir = views / SCENARIO
        manifest = read_manifest(view_dir)

        spec = parse_spec(SPEC, "benchmark spec")
        started = time.perf_counter()
        result = fit_spec(load_view(view_dir), spec)
        training_s = time.perf_counter() - started
        epochs = [epoch.seconds for epoch in result.history]
        epoch_s = sum(epochs) / len(epochs)
        snapshot = root / "input"
        mlflow.onnx.save_model(
            to_onnx(result),
            str(snapshot / "model"),
            signature=signature(result),
            save_as_external_data=False,
        )
        (snapshot / "artifacts").mkdir(parents=True)
        (snapshot / "code").mkdir()
        (snapshot / "code" / "train.ipynb").write_text(json.dumps(NOTEBOOK), encoding="utf-8")
        ctx = CheckContext(
            policies=policies,
            submission=SubmissionInput(
                submission_id="bench-0001",
                scenario=SCENARIO,
                partner="suzhou_rcb",
                submitter="sz-credit",
                submitted_at=dt.datetime.now(dt.UTC),
                run=RunRecord(
                    run_id="bench",
                    user_id="sz-credit",
                    params={k: str(v) for k, v in result.params.items()},
                    tags={"dp": "true", "shuyu.scenario": SCENARIO},
                    dataset_inputs=[
                        DatasetInput(
                            name=SCENARIO,
                            digest=manifest.train_sha256[:36],
                            tags={"shuyu.train_sha256": manifest.train_sha256},
                        )
                    ],
                ),
                privacy=privacy_of(result),
                spec_sha256=spec_sha256(spec),
            ),
            model_dir=snapshot / "model",
            artifacts_dir=snapshot / "artifacts",
            code_dir=snapshot / "code",
            view_dir=view_dir,
            fingerprints_dir=root / "data" / "fingerprints",
            today=dt.date.today(),
        )

        started = time.perf_counter()
        report = examine(ctx)
        checks_only = time.perf_counter() - started
        out = root / "output"
        out.mkdir()
        (out / "report.json").write_text(report.model_dump_json(indent=1), encoding="utf-8")
        started = time.perf_counter()
        render(out / "report.json", out, notebooks_dir())
        report_s = time.perf_counter() - started
        total = checks_only + report_s

        print(f"bank-credit view: {manifest.train_rows} train rows; status {report.status.value}")
        for r in sorted(report.results, key=lambda r: -r.seconds):
            print(f"  {r.id:22s} {r.status.value:5s} {r.seconds:7.2f} s")
        print(f"  {'report (papermill)':22s} {'':5s} {report_s:7.2f} s")
        print(f"self-check total: {total:.1f} s (goal < 60 s)")
        print(
            f"one DP epoch: {epoch_s:.2f} s (mean of {len(epochs)}); "
            f"certified training (not in the ratio): {training_s:.1f} s"
        )
    print(f"ratio={total / epoch_s:.2f}")


if __name__ == "__main__":
    main()
