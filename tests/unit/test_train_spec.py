"""A training spec is a small, closed file: what it may say, what every mistake in it is
told as, its digest, and that training it gives a model on exactly its features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shuyu.errors import InputError
from shuyu.onnx_model import OnnxModel
from shuyu.train.export import to_onnx
from shuyu.train.spec import TrainingSpec, load_spec, spec_sha256
from shuyu.train.spec_training import fit_spec
from shuyu.train.view import AuthorisedView, load_view
from tests.unit.bank_credit_view import write_bank_credit_view

GOOD = """\
model: mlp
hidden: [16, 8]
embedding_dim: 3
features: [total_assets, credit_level, established_year]
epochs: 1
batch_size: 256
learning_rate: 0.3
max_grad_norm: 0.8
seed: 5
epsilon: 2.0
"""


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> AuthorisedView:
    directory = tmp_path_factory.mktemp("views") / "bank_credit"
    write_bank_credit_view(directory, train_rows=3000, holdout_rows=500, seed=2)
    return load_view(directory)


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_spec(path)
    return str(caught.value)


def test_a_good_spec_reads_with_its_defaults_filled_in(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.model == "mlp"
    assert spec.hidden == (16, 8)
    assert spec.features == ("total_assets", "credit_level", "established_year")
    assert (spec.epochs, spec.batch_size, spec.seed) == (1, 256, 5)
    assert spec.epsilon == 2.0
    assert spec.delta is None  # the scenario's δ
    assert spec.private
    assert load_spec(write(tmp_path, "model: mlp\n")).hidden == (64, 32)
    assert load_spec(write(tmp_path, "model: logistic\n")).hidden == ()


def test_the_digest_is_of_the_validated_spec_not_of_the_file(tmp_path: Path) -> None:
    yaml_spec = load_spec(write(tmp_path, GOOD))
    as_json = json.dumps(dict(reversed(list(yaml_spec.model_dump(mode="json").items()))))
    json_spec = load_spec(write(tmp_path, as_json, "spec.json"))
    assert spec_sha256(json_spec) == spec_sha256(yaml_spec)
    assert len(spec_sha256(yaml_spec)) == 64
    # defaults written out or left out: the same training, the same digest
    assert (
        spec_sha256(load_spec(write(tmp_path, "model: mlp\n")))
        == spec_sha256(TrainingSpec(model="mlp", hidden=(64, 32), epochs=10, seed=0))
        == spec_sha256(TrainingSpec(model="mlp"))
    )
    assert spec_sha256(TrainingSpec(model="mlp", hidden=(8,))) != spec_sha256(
        TrainingSpec(model="mlp")
    )
    assert spec_sha256(load_spec(write(tmp_path, GOOD.replace("seed: 5", "seed: 6")))) != (
        spec_sha256(yaml_spec)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model: mlp\nlayers: 3\n", "spec.yaml: layers: is not a spec key; remove it; the keys"),
        ("model: forest\n", "spec.yaml: model: Input should be 'logistic' or 'mlp' (got 'forest')"),
        ("epochs: 3\n", "spec.yaml: model: is required; use one of logistic, mlp"),
        (
            "model: logistic\nhidden: [8]\n",
            "spec.yaml: hidden: a logistic model has no hidden layer; use model: mlp (got [8])",
        ),
        (
            "model: mlp\nhidden: [8, 8, 8, 8, 8]\n",
            "spec.yaml: hidden: at most 4 layers of 1 to 512 units (got [8, 8, 8, 8, 8])",
        ),
        (
            "model: mlp\nhidden: [1024]\n",
            "spec.yaml: hidden: at most 4 layers of 1 to 512 units (got [1024])",
        ),
        ("model: mlp\nprivate: false\n", "spec.yaml: private: Input should be True (got False)"),
        (
            "model: mlp\nepochs: 0\n",
            "spec.yaml: epochs: Input should be greater than or equal to 1 (got 0); use a whole",
        ),
        ("model: mlp\nlearning_rate: -1\n", "spec.yaml: learning_rate: Input should be greater"),
        ("model: mlp\nfeatures: []\n", "spec.yaml: features: Tuple should have at least 1 item"),
        (
            "model: mlp\nfeatures: [county, county]\n",
            "spec.yaml: features: a feature is listed more than once (got ['county', 'county'])",
        ),
        ("model: mlp\nepsilon: 0\n", "spec.yaml: epsilon: Input should be greater than 0 (got 0)"),
        ("- model: mlp\n", "spec.yaml: must be a mapping of spec keys to values (got 'list')"),
        ("model: [mlp\n", "spec.yaml: is not valid YAML"),
    ],
    ids=[
        "unknown key",
        "unknown family",
        "no family",
        "logistic with hidden",
        "too deep",
        "too wide",
        "not private",
        "no epochs",
        "negative rate",
        "no features",
        "feature twice",
        "zero epsilon",
        "not a mapping",
        "bad yaml",
    ],
)
def test_each_mistake_names_the_file_the_field_and_the_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = refusal(write(tmp_path, text))
    assert message.startswith(str(tmp_path) + "/")
    assert expected in message


def test_bad_json_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    assert "spec.json: is not valid JSON" in refusal(write(tmp_path, '{"model": ', "spec.json"))
    assert "nope.yaml: no such training spec" in refusal(tmp_path / "nope.yaml")


def test_a_spec_over_the_scenario_budget_is_refused_naming_its_file(
    tmp_path: Path, view: AuthorisedView
) -> None:
    spec = load_spec(write(tmp_path, GOOD.replace("epsilon: 2.0", "epsilon: 5.0")))
    with pytest.raises(InputError, match=r"spec.yaml: epsilon: exceeds the budget of scenario "):
        fit_spec(view, spec)
    with pytest.raises(InputError, match="belongs in the spec"):
        fit_spec(view, load_spec(write(tmp_path, GOOD)), epochs=3)


def test_training_a_spec_gives_a_model_of_exactly_its_features_in_view_order(
    tmp_path: Path, view: AuthorisedView
) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    result = fit_spec(view, spec, evaluate_each_epoch=False)
    wanted = ["established_year", "total_assets", "credit_level"]  # the view's order
    assert [f.name for f in result.preprocessor.features] == wanted
    assert result.privacy is not None
    assert result.privacy.epsilon <= 2.0
    assert result.params["training_spec_sha256"] == spec_sha256(spec)
    assert result.params["features"] == ",".join(wanted)
    model = OnnxModel.load(to_onnx(result))
    assert model.input_names == wanted
    assert model.score(view.frame).shape == (view.frame.height,)


def test_a_logistic_spec_trains_a_model_without_hidden_layers(
    tmp_path: Path, view: AuthorisedView
) -> None:
    spec = load_spec(write(tmp_path, "model: logistic\nepochs: 1\nfeatures: [total_assets]\n"))
    result = fit_spec(view, spec, evaluate_each_epoch=False)
    linear = [m for m in result.model.modules() if type(m).__name__ == "Linear"]
    assert len(linear) == 1
    assert OnnxModel.load(to_onnx(result)).input_names == ["total_assets"]


def test_unknown_features_are_refused_with_the_view_s_features(
    tmp_path: Path, view: AuthorisedView
) -> None:
    spec = load_spec(write(tmp_path, "model: mlp\nepochs: 1\nfeatures: [uscc]\n"))
    with pytest.raises(InputError, match=r"features: not features of view bank_credit .*uscc"):
        fit_spec(view, spec)
