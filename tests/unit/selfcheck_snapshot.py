"""A submission's snapshot as a check runner mounts it, built in a temporary folder:
policies, the submission record, the model folder MLflow writes, artifacts, code, and
an ONNX model shaped like the ones `shuyu.train.export` produces (built with
onnx.helper, so that no test waits for torch's exporter)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import mlflow.onnx
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from shuyu.policy import load_policies
from shuyu.policy.models import Policies
from shuyu.selfcheck.context import CheckContext, DatasetInput, RunRecord, SubmissionInput
from shuyu.selfcheck.result import PrivacyKind, PrivacyStatement

NUMERIC = ["paid_in_capital", "total_assets", "established_year"]
CATEGORICAL = ["registration_status", "industry_code"]


@cache
def policies() -> Policies:
    return load_policies()


def thresholds_with(**changes: Any) -> Policies:
    """The shipped policies with some self-check thresholds changed."""
    base = policies()
    return base.model_copy(update={"selfcheck": base.selfcheck.model_copy(update=changes)})


def preprocessing() -> dict[str, Any]:
    features = [
        {
            "name": n,
            "type": "float",
            "kind": "numeric",
            "scaling": {"centre": 1.5e6, "scale": 8.1e5},
        }
        for n in NUMERIC
    ] + [
        {"name": n, "type": "string", "kind": "categorical", "vocabulary": ["A", "B", "C"]}
        for n in CATEGORICAL
    ]
    return {"features": features, "data_independent": False, "min_category_count": 20}


def exported_model(
    *,
    extra_initializers: list[TensorProto] | None = None,
    metadata: dict[str, str] | None = None,
    nodes: list[onnx.NodeProto] | None = None,
    opsets: list[onnx.OperatorSetIdProto] | None = None,
    functions: list[onnx.FunctionProto] | None = None,
) -> onnx.ModelProto:
    """A small model with the interface and metadata of `shuyu.train.export`: one [N]
    input per feature, standardisation inside the graph, output `score`."""
    rng = np.random.default_rng(0)
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch"]) for n in NUMERIC]
    inputs += [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch"]) for n in CATEGORICAL]
    initializers = [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.full(3, 1.5e6, dtype=np.float32), "centre"),
        numpy_helper.from_array(np.full(3, 8.1e5, dtype=np.float32), "scale"),
        numpy_helper.from_array(rng.normal(0, 0.3, (3, 8)).astype(np.float32), "net.0.weight"),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "net.0.bias"),
        numpy_helper.from_array(rng.normal(0, 0.3, (8, 1)).astype(np.float32), "net.2.weight"),
        numpy_helper.from_array(rng.normal(0, 0.3, (4, 1)).astype(np.float32), "emb.weight"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat"),
        numpy_helper.from_array(np.array(-5.0, dtype=np.float32), "low"),
        numpy_helper.from_array(np.array(5.0, dtype=np.float32), "high"),
        *(extra_initializers or []),
    ]
    graph_nodes = [
        *[helper.make_node("Unsqueeze", [n, "axis1"], [f"{n}_col"], name=f"node_Unsqueeze_{i}") for i, n in enumerate(NUMERIC)],
        helper.make_node("Concat", [f"{n}_col" for n in NUMERIC], ["raw"], axis=1, name="node_stack"),
        helper.make_node("Sub", ["raw", "centre"], ["centred"], name="node_sub"),
        helper.make_node("Div", ["centred", "scale"], ["z"], name="node_div"),
        helper.make_node("IsNaN", ["z"], ["missing"], name="node_isnan"),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0.0, dtype=np.float32)), name="node_zero"),
        helper.make_node("Where", ["missing", "zero", "z"], ["filled"], name="node_where"),
        helper.make_node("Clip", ["filled", "low", "high"], ["clipped"], name="node_clip"),
        helper.make_node("Gemm", ["clipped", "net.0.weight", "net.0.bias"], ["h"], name="node_linear"),
        helper.make_node("Relu", ["h"], ["a"], name="node_relu"),
        helper.make_node("MatMul", ["a", "net.2.weight"], ["dense"], name="node_linear_1"),
        helper.make_node("Gather", ["emb.weight", CATEGORICAL[0]], ["e0"], axis=0, name="node_embedding"),
        helper.make_node("Add", ["dense", "e0"], ["logit"], name="node_add"),
        helper.make_node("Reshape", ["logit", "flat"], ["flat_logit"], name="node_view"),
        helper.make_node("Sigmoid", ["flat_logit"], ["score"], name="node_sigmoid"),
        *(nodes or []),
    ]  # fmt: skip
    output = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"])
    graph = helper.make_graph(graph_nodes, "main_graph", inputs, [output], initializers)
    model = helper.make_model(
        graph,
        opset_imports=opsets or [helper.make_opsetid("", 20)],
        producer_name="pytorch",
        producer_version="2.13.0",
        ir_version=10,
        functions=functions or [],
    )
    props = {
        "shuyu.scenario": "bank_credit",
        "shuyu.train_sha256": hashlib.sha256(b"bank_credit train split").hexdigest(),
        "shuyu.inputs": "one input per view feature; string/bool features as int64 codes "
        "(shuyu.preprocessing vocabularies, 0 = unknown), numbers as float32",
        "shuyu.preprocessing": json.dumps(preprocessing(), separators=(",", ":")),
        "shuyu.dp": "true",
        "shuyu.epsilon": "2.98",
        "shuyu.delta": "1e-05",
        **(metadata or {}),
    }
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


@cache
def _mlflow_model_dir() -> Path:
    """What mlflow.onnx.save_model (MLflow 3.17.2) writes for the model, made once."""
    target = Path(tempfile.mkdtemp(prefix="shuyu-mlflow-model-")) / "model"
    mlflow.onnx.save_model(
        exported_model(),
        str(target),
        save_as_external_data=False,
        pip_requirements=["onnx", "onnxruntime"],
    )
    return target


def write_model_dir(model_dir: Path, model: onnx.ModelProto | None = None) -> Path:
    """The MLflow model folder, with `model` as its model.onnx."""
    shutil.copytree(_mlflow_model_dir(), model_dir)
    if model is not None:
        (model_dir / "model.onnx").write_bytes(model.SerializeToString())
    return model_dir


def code_cell(source: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "source": source,
        "outputs": outputs or [],
    }


def stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def notebook(*cells: dict[str, Any]) -> str:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            "cells": list(cells),
        },
        ensure_ascii=False,
    )


TRAINING_NOTEBOOK = notebook(
    {"cell_type": "markdown", "metadata": {}, "source": "# 银行信贷模型 / bank credit"},
    code_cell(
        "%matplotlib inline\n"
        "import numpy as np\n"
        "import polars as pl\n"
        "import torch\n"
        "from pathlib import Path\n"
        "from shuyu.train import view as train_view\n"
        "import shuyu.train.export as export\n"
        "OUT = Path('outputs')\n"
        "OUT.mkdir(exist_ok=True)\n"
    ),
    code_cell(
        "train = pl.read_parquet('/data/bank_credit/train.parquet')\n"
        "print(train.shape)\n"
        "train.select(pl.col('total_assets').mean()).to_pandas()",
        [stream("(85213, 24)\n")],
    ),
    code_cell(
        "model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU())\n"
        "model = torch.compile(model) if False else model\n"
        "model.eval()\n"
        "for epoch in range(3):\n"
        "    print(f'epoch {epoch} loss {0.69 - epoch / 100:.4f} auc {0.71 + epoch / 100:.3f}')\n"
        "np.save(OUT / 'scores.npy', np.zeros(3))\n"
        "with open('outputs/metrics.json', 'w') as f:\n"
        "    f.write('{}')\n"
        "(OUT / 'notes.txt').write_text('done')\n"
        "pl.DataFrame({'epoch': [0, 1, 2]}).write_csv('outputs/history.csv')\n",
        [stream("epoch 0 loss 0.6900 auc 0.710\nepoch 1 loss 0.6800 auc 0.720\nepoch 2 loss 0.6700 auc 0.730\n")],
    ),
)  # fmt: skip
"""A partner's ordinary training notebook: reads the view, trains, writes to ./outputs."""


def run_record(**changes: Any) -> RunRecord:
    base: dict[str, Any] = {
        "run_id": "0f3c2b1a9e8d4c7b6a5f4e3d2c1b0a99",
        "user_id": "sz-credit",
        "params": {"epochs": "20", "batch_size": "512", "lr": "0.001", "max_grad_norm": "1.0"},
        "tags": {"dp": "true", "shuyu.scenario": "bank_credit", "mlflow.runName": "dp-mlp"},
        "metrics": {"train_loss": 0.512, "epsilon_spent": 2.98, "train_auc": 0.74},
        "dataset_inputs": [
            DatasetInput(
                name="bank_credit.train", digest="3f2a9c0d", tags={"scenario": "bank_credit"}
            )
        ],
    }
    return RunRecord(**(base | changes))


def context(
    root: Path,
    *,
    run: RunRecord | None = None,
    policies_: Policies | None = None,
    model: onnx.ModelProto | None = None,
    with_model: bool = True,
    approved_modules: tuple[str, ...] = (),
) -> CheckContext:
    """A snapshot under `root` (model/, artifacts/, code/, fingerprints/) and its context."""
    for name in ("artifacts", "code", "view", "fingerprints"):
        (root / name).mkdir(parents=True, exist_ok=True)
    if with_model:
        write_model_dir(root / "model", model)
    submission = SubmissionInput(
        submission_id="sub-0001",
        scenario="bank_credit",
        partner="suzhou_rcb",
        submitter="sz-credit",
        submitted_at=dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC),
        run=run or run_record(),
        privacy=PrivacyStatement(kind=PrivacyKind.CLAIMED, epsilon=2.98, delta=1e-5),
        approved_modules=approved_modules,
    )
    return CheckContext(
        policies=policies_ or policies(),
        submission=submission,
        model_dir=root / "model",
        artifacts_dir=root / "artifacts",
        code_dir=root / "code",
        view_dir=root / "view",
        fingerprints_dir=root / "fingerprints",
        today=dt.date(2026, 7, 1),
    )
