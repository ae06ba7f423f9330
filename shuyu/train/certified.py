"""Certified training: what a training runner runs (`python -m shuyu.train.certified`).

The partner's declarative spec (/input/spec.json), the scenario's train view
(/data/<scenario>, read-only), shuyu's own trainer and accountant: the model it writes
(/output/model, MLflow's ONNX flavour) is the one the self-check examines and the
registry receives, and /output/privacy.json states its (ε, δ) as *certified*. No
partner code runs here, no network, no credential.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_text
from shuyu.sandbox_env import OUTPUT, view_mount
from shuyu.selfcheck.result import PrivacyKind, PrivacyStatement

INPUT = Path("/input")


def privacy_of(result: object) -> PrivacyStatement:
    from shuyu.train.private import TrainResult  # noqa: PLC0415 - needs torch

    assert isinstance(result, TrainResult)
    if result.privacy is None:
        raise ShuyuError("certified training is private by definition: the spec trained none")
    steps_per_epoch = max(1, result.privacy.steps // max(1, len(result.history)))
    return PrivacyStatement(
        kind=PrivacyKind.CERTIFIED,
        epsilon=result.privacy.epsilon,
        delta=result.privacy.delta,
        accountant=result.privacy.accountant,
        epsilon_by_step=[
            (epoch.epoch * steps_per_epoch, float(epoch.epsilon))
            for epoch in result.history
            if epoch.epsilon is not None
        ],
    )


def train(scenario: str, spec_path: Path, out: Path) -> PrivacyStatement:
    import mlflow.onnx  # noqa: PLC0415 - the runner image has mlflow-skinny

    from shuyu.train.export import to_onnx  # noqa: PLC0415
    from shuyu.train.spec import load_spec  # noqa: PLC0415
    from shuyu.train.spec_training import fit_spec  # noqa: PLC0415
    from shuyu.train.tracking import signature  # noqa: PLC0415
    from shuyu.train.view import load_view  # noqa: PLC0415

    spec = load_spec(spec_path)
    result = fit_spec(load_view(Path(str(view_mount(scenario)))), spec)
    mlflow.onnx.save_model(
        to_onnx(result),
        str(out / "model"),
        signature=signature(result),
        save_as_external_data=False,
    )
    statement = privacy_of(result)
    atomic_write_text(out / "privacy.json", statement.model_dump_json(indent=1))
    return statement


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shuyu.train.certified")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--spec", type=Path, default=INPUT / "spec.json")
    parser.add_argument("--out", type=Path, default=Path(str(OUTPUT)))
    args = parser.parse_args(argv)
    try:
        statement = train(args.scenario, args.spec, args.out)
    except ShuyuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"certified: ε = {statement.epsilon:.4g}, δ = {statement.delta:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
