"""Private training on a bank-credit-shaped view: the budget is a hard limit, the
accountants agree, the preprocessing is what the exported model does, and the ONNX
model scores like the torch model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from torch import nn

from shuyu.errors import InputError, ShuyuError
from shuyu.onnx_model import UNKNOWN_CODE, OnnxModel, model_inputs
from shuyu.policy.models import DPBudget
from shuyu.train.accounting import privacy_spent, resolve_budget
from shuyu.train.export import to_onnx, view_model
from shuyu.train.metrics import roc_auc
from shuyu.train.preprocess import NumericScaling, encode, fit_preprocessor
from shuyu.train.private import TrainResult, fit, predict
from shuyu.train.view import AuthorisedView, load_view, view_directory
from tests.unit.bank_credit_view import write_bank_credit_view


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> AuthorisedView:
    directory = tmp_path_factory.mktemp("views") / "bank_credit"
    write_bank_credit_view(directory, train_rows=6000, holdout_rows=3000, seed=1)
    return load_view(directory)


@pytest.fixture(scope="module")
def trained(view: AuthorisedView) -> TrainResult:
    return fit(view, epochs=4, batch_size=256, seed=0)


def holdout(view: AuthorisedView) -> pl.DataFrame:
    return pl.read_parquet(view.directory / "holdout.parquet")


def test_private_training_stays_within_the_scenario_budget(trained: TrainResult) -> None:
    budget = trained.view.manifest.dp
    assert trained.dp
    assert trained.grad_mode == "bookkeeping"
    assert trained.privacy is not None
    assert trained.privacy.epsilon <= budget.epsilon
    assert trained.privacy.epsilon > 0.9 * budget.epsilon  # calibrated, not over-noised
    assert trained.privacy.delta == budget.delta
    # RDP is a looser bound than PRV for the same mechanism: a cross-check, not a rival
    assert trained.privacy.epsilon <= trained.privacy.epsilon_rdp < 1.5 * budget.epsilon
    eps = [e.epsilon for e in trained.history]
    assert eps == sorted(eps)
    assert eps[-1] == pytest.approx(trained.privacy.epsilon)


def test_dp_model_beats_a_trivial_baseline_on_the_holdout(trained: TrainResult) -> None:
    frame = holdout(trained.view)
    labels = frame["default_12m"].to_numpy()
    assert roc_auc(labels, np.zeros(len(labels))) == 0.5  # the constant predictor
    assert roc_auc(labels, predict(trained, frame)) > 0.6


def test_asking_for_more_than_the_budget_is_refused(view: AuthorisedView) -> None:
    with pytest.raises(ShuyuError, match=r"bank_credit.*ε ≤ 3.0.*ε=5"):
        fit(view, epochs=1, epsilon=5.0)
    with pytest.raises(ShuyuError, match=r"δ ≤ 1e-05"):
        fit(view, epochs=1, delta=1e-3)
    assert resolve_budget(DPBudget(epsilon=3, delta=1e-5), "s", 1.0, None) == (1.0, 1e-5)


def test_a_smaller_epsilon_buys_more_noise(view: AuthorisedView) -> None:
    small = fit(view, epochs=1, epsilon=0.5, evaluate_each_epoch=False)
    large = fit(view, epochs=1, epsilon=3.0, evaluate_each_epoch=False)
    assert small.privacy
    assert large.privacy
    assert small.privacy.noise_multiplier > large.privacy.noise_multiplier
    assert small.privacy.epsilon <= 0.5


def test_accounting_counts_every_step() -> None:
    few = privacy_spent(1.0, 0.01, 100, 1e-5)
    many = privacy_spent(1.0, 0.01, 1000, 1e-5)
    assert 0 < few.epsilon < many.epsilon
    assert privacy_spent(1.0, 0.01, 0, 1e-5).epsilon == 0.0


def test_models_with_other_layers_fall_back_to_opacus(view: AuthorisedView) -> None:
    pre = fit_preprocessor(view.manifest, view.frame)
    n_numeric, n_cat = len(pre.numeric), len(pre.categorical)

    class Normed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(n_numeric + n_cat, 8), nn.LayerNorm(8), nn.Linear(8, 1)
            )

        def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
            return self.net(torch.cat([numeric, codes.float()], 1))  # type: ignore[no-any-return]

    result = fit(view, Normed(), epochs=1, evaluate_each_epoch=False)
    assert result.grad_mode == "opacus"
    assert result.privacy is not None
    assert result.privacy.epsilon <= 3.0
    with pytest.raises(ShuyuError, match="LayerNorm"):
        fit(view, Normed(), epochs=1, grad_mode="bookkeeping")


def test_non_private_baseline_has_no_privacy_claim(view: AuthorisedView) -> None:
    result = fit(view, private=False, epochs=1)
    assert not result.dp
    assert result.privacy is None
    assert result.grad_mode == "none"


def test_preprocessing_vocabularies_and_scaling(view: AuthorisedView) -> None:
    frame = view.frame
    pre = fit_preprocessor(view.manifest, frame, min_category_count=10)
    assert not pre.data_independent
    bools = {f.name: f.vocabulary for f in pre.categorical if f.type == "bool"}
    assert bools
    assert all(v == ["false", "true"] for v in bools.values())
    level = next(f for f in pre.features if f.name == "credit_level")
    assert level.vocabulary == ["A", "B", "C", "D"]
    # a value seen fewer than min_category_count times is not in the vocabulary
    rare = frame.with_columns(pl.Series("credit_level", ["Z"] * 3 + ["A"] * (frame.height - 3)))
    rare_pre = fit_preprocessor(view.manifest, rare, min_category_count=10)
    assert "Z" not in (
        next(f for f in rare_pre.features if f.name == "credit_level").vocabulary or []
    )
    codes = model_inputs(rare_pre, rare)["credit_level"]
    assert (codes[:3] == UNKNOWN_CODE).all()
    assert (codes[3:] == 1).all()
    encoded = encode(pre, frame)
    assert encoded.numeric.dtype == np.float32
    assert np.abs(encoded.numeric).max() <= 5.0
    assert abs(float(np.median(encoded.numeric[:, 0]))) < 0.1  # centred


def test_public_vocabularies_and_bounds_make_preprocessing_data_independent(
    view: AuthorisedView,
) -> None:
    vocab = {f.name: ["x"] for f in view.manifest.features if f.type == "string"}
    bounds = {
        f.name: NumericScaling(centre=0, scale=1)
        for f in view.manifest.features
        if f.type not in {"string", "bool"}
    }
    pre = fit_preprocessor(view.manifest, view.frame, vocabularies=vocab, numeric_bounds=bounds)
    assert pre.data_independent
    with pytest.raises(InputError, match="not a feature"):
        fit_preprocessor(view.manifest, view.frame, vocabularies={"uscc": ["x"]})


def test_onnx_model_takes_the_view_features_and_matches_torch(trained: TrainResult) -> None:
    proto = to_onnx(trained)
    assert [i.name for i in proto.graph.input] == trained.view.manifest.feature_names
    frame = holdout(trained.view).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(None)
        .otherwise(pl.col("total_assets"))
        .alias("total_assets")
    )  # missing values take the same path in both
    model = OnnxModel.load(proto.SerializeToString())
    inputs = model.inputs(frame)  # from the model's own metadata, without torch
    from_onnx = model.predict(inputs)
    with torch.no_grad():
        from_torch = view_model(trained)(
            *(torch.from_numpy(inputs[n]) for n in trained.view.manifest.feature_names)
        ).numpy()
    np.testing.assert_allclose(from_onnx, from_torch, rtol=0, atol=1e-5)
    np.testing.assert_allclose(from_torch, predict(trained, frame), rtol=0, atol=1e-6)
    assert model.preprocessing == trained.preprocessor.model_dump(mode="json")
    assert model.input_names == trained.view.manifest.feature_names
    assert model.metadata["shuyu.dp"] == "true"
    assert model.metadata["shuyu.scenario"] == "bank_credit"
    np.testing.assert_array_equal(model.score(frame), from_onnx)


def test_training_on_a_subset_of_features_gives_a_model_of_exactly_those(
    view: AuthorisedView,
) -> None:
    asked = ["credit_level", "total_assets", "established_year"]
    result = fit(view, epochs=1, features=asked, evaluate_each_epoch=False)
    in_view_order = [n for n in view.manifest.feature_names if n in asked]
    assert [f.name for f in result.preprocessor.features] == in_view_order
    assert [i.name for i in to_onnx(result).graph.input] == in_view_order
    with pytest.raises(InputError, match=r"features: not features of view bank_credit"):
        fit(view, epochs=1, features=["uscc"])
    with pytest.raises(InputError, match="differ from the features of the preprocessor"):
        fit(view, epochs=1, features=asked[:1], preprocessor=result.preprocessor)


def test_a_container_without_torch_or_polars_scores_view_columns(
    trained: TrainResult, tmp_path: Path
) -> None:
    """What a production run does: load the ONNX file and score columns of the view
    with nothing but numpy and onnxruntime (torch and polars cannot be imported)."""
    frame = holdout(trained.view)
    (tmp_path / "model.onnx").write_bytes(to_onnx(trained).SerializeToString())
    np.savez(tmp_path / "columns.npz", **{n: frame[n].to_numpy() for n in frame.columns})
    script = (
        "import sys; sys.modules['torch'] = None; sys.modules['polars'] = None\n"
        "import numpy as np\n"
        "from shuyu.onnx_model import OnnxModel\n"
        f"model = OnnxModel.load({str(tmp_path / 'model.onnx')!r})\n"
        f"columns = dict(np.load({str(tmp_path / 'columns.npz')!r}, allow_pickle=True))\n"
        f"np.save({str(tmp_path / 'scores.npy')!r}, model.score(columns))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    scores = np.load(tmp_path / "scores.npy")
    np.testing.assert_allclose(scores, predict(trained, frame), rtol=0, atol=1e-5)


def test_view_directory_comes_from_the_sandbox_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHUYU_DATA", str(tmp_path))
    monkeypatch.setenv("SHUYU_SCENARIO", "bank_credit")
    assert view_directory() == tmp_path / "bank_credit"
    monkeypatch.delenv("SHUYU_SCENARIO")
    with pytest.raises(InputError, match="name the scenario"):
        view_directory()
    with pytest.raises(InputError, match="no view manifest"):
        load_view(tmp_path / "a")


def test_a_feature_suppressed_everywhere_stays_an_input_carrying_only_missing(
    view: AuthorisedView,
) -> None:
    # k-anonymity can null a rare quasi-identifier in every row of a small view
    blank = view.frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("established_year"))
    pre = fit_preprocessor(view.manifest, blank)
    year = next(f for f in pre.features if f.name == "established_year")
    assert year.scaling == NumericScaling(centre=0.0, scale=1.0)
    assert "established_year" in model_inputs(pre, blank)
    assert np.isfinite(encode(pre, blank).numeric).all()
