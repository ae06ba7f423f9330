"""DP training inside the partner sandbox: read the authorised view, train within the
scenario's (ε, δ) budget, export to ONNX, log the run to MLflow.

The entry point is `shuyu.train.private.fit` (and `python -m shuyu.train` for a whole run
from a notebook or terminal with only `SHUYU_DATA` and `MLFLOW_*` set). Everything here
runs in the notebook image: torch, opacus, onnx, onnxruntime and mlflow-skinny, never the
hub or server extras.
"""
