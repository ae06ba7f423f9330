"""Export a trained model to ONNX, the only model format that leaves a sandbox.

The graph takes one input per feature it was trained on (the view's, or the subset
asked for), named exactly as the feature and in the view's order, shape [N]: numeric
features as float32 raw values (NaN for missing; the standardisation is inside the
graph), string and bool features as int64 category codes (vocabulary position + 1, 0
for missing/unknown; the vocabularies travel in the model's metadata under
`shuyu.preprocessing`). The output `score` is the probability of
the positive class (classification) or the prediction (regression). Scoring needs no
torch: `shuyu.onnx_model`.

Exporter: torch 2.13's default, dynamo-based `torch.onnx.export(..., dynamo=True)`. It
needs onnxscript, which the `train` extra pins and the notebook image's wheelhouse
carries, so it works offline; the legacy TorchScript exporter is deprecated.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from shuyu.fsutil import atomic_write_bytes
from shuyu.onnx_model import OUTPUT_NAME, PREPROCESSING_KEY
from shuyu.train.preprocess import CLIP, Preprocessor
from shuyu.train.private import TrainResult


class ViewModel(nn.Module):
    """The trained network behind the view's columns: standardise, then score."""

    def __init__(self, net: nn.Module, preprocessor: Preprocessor, task: str) -> None:
        super().__init__()
        self.net = net
        self.kinds = [f.kind for f in preprocessor.features]
        numeric = [f.scaling for f in preprocessor.numeric if f.scaling is not None]
        self.register_buffer(
            "centre", torch.tensor([s.centre for s in numeric], dtype=torch.float32)
        )
        self.register_buffer("scale", torch.tensor([s.scale for s in numeric], dtype=torch.float32))
        self.classification = task == "classification"

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        numbers = [f for f, kind in zip(features, self.kinds, strict=True) if kind == "numeric"]
        codes = [f for f, kind in zip(features, self.kinds, strict=True) if kind == "categorical"]
        n = features[0].shape[0]
        if numbers:
            raw = torch.stack(numbers, dim=1)
            z = (raw - self.get_buffer("centre")) / self.get_buffer("scale")
            numeric = torch.where(torch.isnan(z), torch.zeros_like(z), z).clamp(-CLIP, CLIP)
        else:
            numeric = features[0].new_zeros((n, 0), dtype=torch.float32)
        code_matrix = torch.stack(codes, dim=1) if codes else torch.zeros((n, 0), dtype=torch.long)
        out = self.net(numeric, code_matrix)
        out = out.reshape(n)
        return torch.sigmoid(out) if self.classification else out


def view_model(result: TrainResult) -> ViewModel:
    return ViewModel(result.model, result.preprocessor, result.view.manifest.label.task).eval()


def example_inputs(preprocessor: Preprocessor, rows: int = 4) -> tuple[torch.Tensor, ...]:
    """Made-up inputs to trace with: zeros, never rows of the view."""
    return tuple(
        torch.zeros(rows, dtype=torch.long if f.kind == "categorical" else torch.float32)
        for f in preprocessor.features
    )


def metadata(result: TrainResult) -> dict[str, str]:
    manifest = result.view.manifest
    props = {
        "shuyu.scenario": manifest.scenario,
        "shuyu.train_sha256": manifest.train_sha256,
        "shuyu.inputs": "one input per feature trained on; string/bool features as int64 codes "
        "(shuyu.preprocessing vocabularies, 0 = unknown), numbers as float32",
        PREPROCESSING_KEY: result.preprocessor.to_json(),
        "shuyu.dp": "true" if result.dp else "false",
    }
    if result.privacy is not None:
        props |= {
            "shuyu.epsilon": f"{result.privacy.epsilon:.6g}",
            "shuyu.delta": f"{result.privacy.delta:.6g}",
        }
    return props


def to_onnx(result: TrainResult) -> onnx.ModelProto:
    model = view_model(result)
    names = [f.name for f in result.preprocessor.features]  # the view's, or a subset of them
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's chatter about treespecs and axes
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program: Any = torch.onnx.export(
            model,
            example_inputs(result.preprocessor),
            None,
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamic_shapes=(tuple({0: batch} for _ in names),),
            dynamo=True,
            verbose=False,
        )
    proto: onnx.ModelProto = program.model_proto
    for key, value in metadata(result).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    return proto


def save_onnx(result: TrainResult, path: Path) -> onnx.ModelProto:
    proto = to_onnx(result)
    atomic_write_bytes(Path(path), proto.SerializeToString())
    return proto
