"""What the self-check's scope and indirect-exposure tests submit: a check context as the
check runner would mount it, and hand-built ONNX models a partner could upload — one
that memorises its training rows, one that reads a field outside the view.

The hand-built models carry the `shuyu.preprocessing` metadata that `shuyu.onnx_model`
reads to turn view columns into inputs, as a partner exporting their own graph could.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import polars as pl
from onnx import TensorProto, helper, numpy_helper

from shuyu.policy.models import Policies
from shuyu.selfcheck.context import CheckContext, DatasetInput, RunRecord, SubmissionInput
from shuyu.selfcheck.result import PrivacyKind, PrivacyStatement

TODAY = dt.date(2026, 12, 1)
OPSET = 18
MEMORISED_FEATURES = ("total_assets", "total_liabilities", "total_revenue", "net_profit")


def view_dataset(scenario: str, train_sha256: str) -> DatasetInput:
    """The dataset input shuyu.train logs for a view (digest cut to MLflow's 36)."""
    return DatasetInput(
        name=scenario, digest=train_sha256[:36], tags={"shuyu.train_sha256": train_sha256}
    )


def submission(
    *,
    scenario: str = "bank_credit",
    partner: str = "suzhou_rcb",
    submitter: str = "sz-credit",
    run_user: str | None = None,
    privacy: PrivacyStatement | None = None,
    datasets: Sequence[DatasetInput] = (),
    spec_sha256: str = "",
    submission_id: str = "sub-0001",
) -> SubmissionInput:
    return SubmissionInput(
        submission_id=submission_id,
        scenario=scenario,
        partner=partner,
        submitter=submitter,
        submitted_at=dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC),
        run=RunRecord(
            run_id="run-0001",
            user_id=run_user or submitter,
            tags={"dp": "true", "shuyu.scenario": scenario},
            dataset_inputs=list(datasets),
        ),
        privacy=privacy or PrivacyStatement(kind=PrivacyKind.NONE),
        spec_sha256=spec_sha256,
    )


def context(
    policies: Policies,
    sub: SubmissionInput,
    *,
    model_dir: Path,
    view_dir: Path,
    today: dt.date = TODAY,
) -> CheckContext:
    empty = model_dir.parent / "empty"
    empty.mkdir(exist_ok=True)
    return CheckContext(
        policies=policies,
        submission=sub,
        model_dir=model_dir,
        artifacts_dir=empty,
        code_dir=empty,
        view_dir=view_dir,
        fingerprints_dir=empty,
        today=today,
    )


def _numeric_preprocessing(names: Sequence[str]) -> str:
    features = [
        {
            "name": n,
            "type": "float",
            "kind": "numeric",
            "vocabulary": None,
            "scaling": {"centre": 0.0, "scale": 1.0},
        }
        for n in names
    ]
    return json.dumps({"features": features, "data_independent": True, "min_category_count": 10})


def _stacked(names: Sequence[str], nodes: list[onnx.NodeProto]) -> str:
    """Nodes stacking the [N] float inputs into one [N, d] matrix `x`."""
    nodes.append(
        helper.make_node(
            "Constant",
            [],
            ["axis1"],
            value=numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        )
    )
    for name in names:
        nodes.append(helper.make_node("Unsqueeze", [name, "axis1"], [f"{name}_col"]))
    nodes.append(helper.make_node("Concat", [f"{n}_col" for n in names], ["x"], axis=1))
    return "x"


def _model(
    names: Sequence[str],
    nodes: list[onnx.NodeProto],
    initialisers: list[onnx.TensorProto],
    *,
    scenario: str,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "partner_model",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N"]) for n in names],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"])],
        initializer=initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    for key, value in {
        "shuyu.scenario": scenario,
        "shuyu.preprocessing": _numeric_preprocessing(names),
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


def memorising_model(
    train: pl.DataFrame,
    *,
    label: str,
    features: Sequence[str] = MEMORISED_FEATURES,
    prior: float = 0.1,
    scenario: str = "bank_credit",
) -> onnx.ModelProto:
    """A lookup table as a model: the exact training label (with confidence 1 − 10⁻⁶) for
    a row it has seen, the base rate `prior` for any other row. What a 1-nearest-neighbour
    model on exact matches does, and what no DP training can produce."""
    table = train.select(features).to_numpy().astype(np.float32)
    labels = train[label].cast(pl.Float32).to_numpy()
    confident = np.where(labels > 0.5, 1 - 1e-6, 1e-6).astype(np.float32)
    nodes: list[onnx.NodeProto] = []
    x = _stacked(features, nodes)
    initialisers = [
        numpy_helper.from_array(table[None, :, :], "rows"),  # [1, M, d]
        numpy_helper.from_array(confident, "labels"),  # [M]
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array(prior, dtype=np.float32), "prior"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
    ]
    nodes += [
        helper.make_node("Unsqueeze", [x, "axis1"], ["x3"]),  # [N, 1, d]
        helper.make_node("Sub", ["x3", "rows"], ["diff"]),  # [N, M, d]
        helper.make_node("Mul", ["diff", "diff"], ["squared"]),
        helper.make_node("ReduceSum", ["squared", "axis2"], ["distance"], keepdims=0),
        helper.make_node("ArgMin", ["distance"], ["nearest"], axis=1, keepdims=0),
        helper.make_node("ReduceMin", ["distance", "axis1"], ["closest"], keepdims=0),
        helper.make_node("Equal", ["closest", "zero"], ["seen"]),
        helper.make_node("Gather", ["labels", "nearest"], ["remembered"], axis=0),
        helper.make_node("Where", ["seen", "remembered", "prior"], ["score"]),
    ]
    return _model(features, nodes, initialisers, scenario=scenario)


def linear_model(
    names: Sequence[str], *, scenario: str = "bank_credit", seed: int = 0
) -> onnx.ModelProto:
    """sigmoid(w·x): a small model taking `names` as its inputs, whatever they are."""
    rng = np.random.default_rng(seed)
    nodes: list[onnx.NodeProto] = []
    x = _stacked(names, nodes)
    weights = (rng.normal(0, 1e-3, (len(names), 1))).astype(np.float32)
    initialisers = [
        numpy_helper.from_array(weights, "w"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "last"),
    ]
    nodes += [
        helper.make_node("MatMul", [x, "w"], ["logit2"]),
        helper.make_node("Squeeze", ["logit2", "last"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["score"]),
    ]
    return _model(names, nodes, initialisers, scenario=scenario)


def save(model: onnx.ModelProto, model_dir: Path) -> Path:
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path
