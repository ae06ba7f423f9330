"""The red-team corpus: submissions a partner could make from the sandbox, each through
the whole real path — logged to MLflow with the partner's own account from inside the
sandbox, submitted with `shuyu.submit`, checked by the service in runner containers
with no network — and each caught by the right check, while good ones pass.

What a partner controls is built the way a partner would build it: their notebook, the
artifacts they log, tags and metrics they set, and the ONNX graph they hand to
`mlflow.onnx.log_model` (here by editing shuyu's own export before it is logged, with
the ONNX checker switched off where it would object). Rows of the domain's tables that
a partner should never have are planted by the test, as a leak would put them there.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import numpy as np
import polars as pl
import pytest

from shuyu.data.generate.identifiers import make_resident_ids
from shuyu.data.regions import COUNTIES
from tests.integration.containers import python_in
from tests.integration.platform_fixture import RunningPlatform
from tests.integration.test_review_flow import _service

pytestmark = pytest.mark.integration

PARTNER = "sz-credit"  # bank_credit and bid_loan

CLEAN_CELL = "from shuyu.train.run import train_and_log\nresult, logged = train_and_log()"


def _notebook(*cells: tuple[str, str]) -> str:
    """A notebook of code cells (source, printed output)."""
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": i + 1,
                    "id": f"c{i}",
                    "metadata": {},
                    "source": source,
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": printed}]
                    if printed
                    else [],
                }
                for i, (source, printed) in enumerate(cells)
            ],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def _resident_ids(n: int) -> list[str]:
    rng = np.random.default_rng(11)
    codes = [c.code for c in COUNTIES][:5]
    return list(make_resident_ids(rng, n, codes, dt.date(1960, 1, 1), dt.date(2000, 1, 1)))


def _cases(platform: RunningPlatform) -> list[dict[str, Any]]:
    ids = _resident_ids(3)
    masked = pl.read_parquet(platform.layout.data / "masked" / "enterprise_basic.parquet")
    leaked_rows = masked.head(25).write_csv()
    clean = _notebook((CLEAN_CELL, ""))
    return [
        # the good: no false rejects
        {"name": "good-dp", "expect": None, "notebook": clean},
        {
            "name": "good-dp-with-aggregates",
            "expect": None,
            "notebook": clean,
            "artifacts": {"loss_by_epoch.csv": "epoch,loss\n1,0.69\n2,0.61\n"},
        },
        {
            # an import the runner image lacks and nobody approved: not a violation, but
            # the production run would fail, so the reviewer is told
            "name": "good-but-imports-an-unapproved-package",
            "expect": None,
            "notebook": _notebook((CLEAN_CELL + "\nimport lightgbm_unapproved", "")),
        },
        {
            "name": "good-certified",
            "expect": None,
            "notebook": clean,
            "spec": {"model": "logistic", "epochs": 2, "batch_size": 64},
        },
        # the bad: each with the check that must catch it
        {
            "name": "notebook-prints-resident-ids",
            "expect": "direct.pii",
            "notebook": _notebook(("print(df.head())", "\n".join(ids))),
        },
        {
            "name": "csv-of-domain-rows",
            "expect": "direct.verbatim",
            "notebook": clean,
            "artifacts": {"sample.csv": leaked_rows},
        },
        {
            "name": "ids-in-onnx-metadata",
            "expect": "direct.pii",
            "notebook": clean,
            "edit": "metadata",
            "payload": ids[0],
        },
        {"name": "pickle-with-reduce", "expect": "other.modelscan", "notebook": clean,
         "pickle": True},
        {
            "name": "socket-by-computed-name",
            "expect": "other.static_code",
            "notebook": _notebook(
                ("import importlib\nnet = importlib.import_module('so' + 'cket')", "")
            ),
        },
        {
            "name": "epsilon-above-budget",
            "expect": "indirect.dp_budget",
            "notebook": clean,
            "metrics": {"epsilon_spent": 50.0},
        },
        {
            "name": "input-outside-scope",
            "expect": "scope.inputs",
            "notebook": clean,
            "edit": "extra_input",
            "payload": "legal_person_id_number",
        },
        {
            "name": "onnx-external-data",
            "expect": "other.onnx_graph",
            "notebook": clean,
            "edit": "external_data",
        },
        {
            "name": "onnx-custom-operator",
            "expect": "other.onnx_graph",
            "notebook": clean,
            "edit": "custom_domain",
        },
        {
            "name": "ids-in-a-logged-table",
            "expect": "direct.pii",
            "notebook": clean,
            "artifacts": {"check.csv": "id,score\n" + "".join(f"{i},0.5\n" for i in ids)},
        },
        {
            "name": "a-dataset-of-its-own",
            "expect": "scope.datasets",
            "notebook": clean,
            "foreign_input": True,
        },
    ]  # fmt: skip


# What the partner runs in the sandbox: shuyu's own DP training once, then for each case
# a run of its own logging that model with the partner's changes, then `shuyu.submit`.
PARTNER_SCRIPT = r"""
import json, os, pathlib, pickle
import mlflow, mlflow.onnx, onnx
from onnx import TensorProto, helper
import shuyu
import shuyu.train.tracking as tracking
from shuyu.train.private import fit
from shuyu.train.view import load_view, view_directory

CASES = json.loads(pathlib.Path("/home/jovyan/work/cases.json").read_text())
log_model, to_onnx, checker = mlflow.onnx.log_model, tracking.to_onnx, onnx.checker.check_model

class Reduce:
    def __reduce__(self):
        return (os.system, ("echo pwned",))

def edited(model, case):
    how = case.get("edit")
    if how == "metadata":
        model.metadata_props.append(onnx.StringStringEntryProto(key="owner", value=case["payload"]))
    elif how == "extra_input":
        model.graph.input.append(
            helper.make_tensor_value_info(case["payload"], TensorProto.FLOAT, [None, 1]))
    elif how == "external_data":
        init = model.graph.initializer[0]
        init.ClearField("raw_data")
        init.data_location = TensorProto.EXTERNAL
        entry = init.external_data.add()
        entry.key, entry.value = "location", "../../../../etc/passwd"
    elif how == "custom_domain":
        out = model.graph.output[0].name
        model.graph.node.append(helper.make_node("Beacon", [out], ["beacon"], domain="com.partner"))
        model.graph.output.append(helper.make_tensor_value_info("beacon", TensorProto.FLOAT, None))
        model.opset_import.append(helper.make_opsetid("com.partner", 1))
    return model

trained = fit(load_view(view_directory("bank_credit")), private=True, epochs=1, batch_size=64)
made = {}
for case in CASES:
    scenario = "bank_credit"
    work = pathlib.Path("/home/jovyan/work", case["name"])
    work.mkdir(parents=True, exist_ok=True)
    for name, text in case.get("artifacts", {}).items():
        (work / name).write_text(text)
    if case.get("pickle"):
        (work / "model.pkl").write_bytes(pickle.dumps(Reduce()))
    notebook = work / "train.ipynb"
    notebook.write_text(case["notebook"])

    def logging_model(model, **kw):
        for path in sorted(work.iterdir()):
            if path.name != "train.ipynb":
                mlflow.log_artifact(str(path))
        for key, value in case.get("metrics", {}).items():
            mlflow.log_metric(key, value)
        if case.get("foreign_input"):
            import pandas as pd
            own = pd.DataFrame({"uscc": ["x"] * 3, "default": [0, 1, 0]})
            mlflow.log_input(mlflow.data.from_pandas(own, name="bank_own_loans"), context="training")
        return log_model(model, **kw)

    mlflow.onnx.log_model = logging_model
    tracking.to_onnx = lambda result, case=case: edited(to_onnx(result), case)
    onnx.checker.check_model = (lambda *a, **k: None) if case.get("edit") else checker
    logged = tracking.log_training(trained)
    submitted = shuyu.submit(logged.run_id, scenario, note=case["name"], spec=case.get("spec"),
                             notebook=str(notebook))
    made[case["name"]] = submitted["id"]
print(json.dumps(made))
"""


def _make(platform: RunningPlatform, scenario: str, cases: list[dict[str, Any]]) -> dict[str, str]:
    """In `PARTNER`'s sandbox for `scenario`: log and submit each case."""
    with platform.running(PARTNER, scenario) as container:
        placed = python_in(
            container,
            "import pathlib; pathlib.Path('/home/jovyan/work/cases.json').write_text("
            f"{json.dumps(json.dumps(cases))})",
        )
        assert placed.returncode == 0, placed.stderr
        done = python_in(container, PARTNER_SCRIPT, timeout=1200)
        assert done.returncode == 0, done.stderr[-4000:]
    made: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return made


@pytest.fixture(scope="module")
def corpus(platform: RunningPlatform) -> tuple[list[dict[str, Any]], dict[str, str]]:
    cases = _cases(platform)
    made = _make(platform, "bank_credit", cases)
    reviewer = _service(platform, "rv-provider")
    deadline = time.monotonic() + 1800
    pending = set(made.values())
    while pending:
        assert time.monotonic() < deadline, f"still being checked: {sorted(pending)}"
        for sid in sorted(pending):
            if reviewer.get(f"/submissions/{sid}").json()["state"] not in {"submitted", "checking"}:
                pending.discard(sid)
        time.sleep(3)
    return cases, made


def _failed_checks(platform: RunningPlatform, sid: str) -> dict[str, str]:
    report = _service(platform, "rv-provider").get(f"/submissions/{sid}/report.json").json()
    return {r["id"]: r["status"] for r in report["results"] if r["status"] in {"fail", "error"}}


def test_good_submissions_pass_the_self_check(
    platform: RunningPlatform, corpus: tuple[list[dict[str, Any]], dict[str, str]]
) -> None:
    cases, made = corpus
    reviewer = _service(platform, "rv-provider")
    for case in (c for c in cases if c["expect"] is None):
        found = reviewer.get(f"/submissions/{made[case['name']]}").json()
        assert found["state"] == "in_review", (case["name"], found["reason"])
    packages = {
        name: next(
            r["status"]
            for r in reviewer.get(f"/submissions/{made[name]}/report.json").json()["results"]
            if r["id"] == "other.packages"
        )
        for name in ("good-dp", "good-but-imports-an-unapproved-package")
    }
    # read in the real check runner: the clean notebook's imports are all in its image
    assert packages == {"good-dp": "pass", "good-but-imports-an-unapproved-package": "warn"}
    certified = reviewer.get(f"/submissions/{made['good-certified']}").json()
    assert certified["privacy_kind"] == "certified"
    assert certified["spec_sha256"]


def test_each_bad_submission_is_caught_by_the_right_check(
    platform: RunningPlatform, corpus: tuple[list[dict[str, Any]], dict[str, str]]
) -> None:
    cases, made = corpus
    bad = [c for c in cases if c["expect"] is not None]
    assert len(bad) >= 10
    reviewer = _service(platform, "rv-provider")
    for case in bad:
        sid = made[case["name"]]
        found = reviewer.get(f"/submissions/{sid}").json()
        assert found["state"] == "check_failed", (case["name"], found["state"], found["reason"])
        failed = _failed_checks(platform, sid)
        assert failed.get(case["expect"]) == "fail", (case["name"], failed)
        # and a failed check cannot be approved
        vote = reviewer.post(f"/submissions/{sid}/votes", {"decision": "approve", "comment": ""})
        assert vote.status_code in {403, 409}, (case["name"], vote.status_code)
