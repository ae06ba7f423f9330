"""Train a model on an authorised view with differential privacy (DP-SGD).

    from shuyu.train.view import load_view, view_directory
    from shuyu.train.private import fit
    result = fit(load_view(view_directory("bank_credit")), epochs=10)
    result.privacy.epsilon  # ≤ the scenario's ε, by Opacus's PRV accountant

Batches are Poisson-sampled (each row independently with probability q = batch/N), the
sampling the accountants assume. The gradient of a step comes from one of the steps of
`shuyu.train.steps`: the book-keeping fast path when the model is made of the layers it
supports (`grad_mode="auto"`), Opacus's GradSampleModule + DPOptimizer otherwise; both
give Opacus's clipped sum and noise distribution (tested).

The training loss and AUC recorded per epoch are plain (non-private) aggregates over the
whole training split, for the partner's own monitoring; the model is what DP protects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import nan

import numpy as np
import torch
from torch import nn

from shuyu.errors import InputError, ShuyuError
from shuyu.train.accounting import PrivacySpent, calibrate_noise, privacy_spent, resolve_budget
from shuyu.train.metrics import roc_auc
from shuyu.train.models import TabularMLP
from shuyu.train.preprocess import Preprocessor, encode, fit_preprocessor, label_values
from shuyu.train.steps import STEPS, GradMode, StepSetup, choose_step
from shuyu.train.view import AuthorisedView

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    loss: float
    train_auc: float | None
    epsilon: float | None
    seconds: float


@dataclass
class TrainResult:
    model: nn.Module
    preprocessor: Preprocessor
    view: AuthorisedView
    dp: bool
    privacy: PrivacySpent | None  # None for a non-private baseline (tagged dp=false)
    grad_mode: str
    params: dict[str, object]
    history: list[EpochMetrics] = field(default_factory=list)


def per_sample_loss(loss: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The loss as one value per sample, shape [B].

    A [B, 1] loss (a [B, 1] model output against a [B, 1] target) is flattened here:
    left as it is, a per-sample coefficient of shape [B] would broadcast it to [B, B]
    (Opacus's ghost-clipping criterion wrapper does exactly that, silently), giving
    wrong gradients with no error. Any other shape is refused.
    """
    if loss.shape == (batch_size,):
        return loss
    if loss.shape == (batch_size, 1):
        return loss.reshape(batch_size)
    raise ShuyuError(
        f"the loss must give one value per sample, shape [{batch_size}] "
        f"(or [{batch_size}, 1]); got {list(loss.shape)}: use reduction='none' and "
        "one output per row"
    )


def default_loss(task: str) -> LossFn:
    if task == "classification":
        return lambda out, y: nn.functional.binary_cross_entropy_with_logits(
            out, y, reduction="none"
        )
    return lambda out, y: nn.functional.mse_loss(out, y, reduction="none")


def _flat_output(output: torch.Tensor, batch_size: int) -> torch.Tensor:
    if output.shape == (batch_size, 1):
        return output.reshape(batch_size)
    if output.shape != (batch_size,):
        raise ShuyuError(
            f"the model must return one value per row, shape [{batch_size}] or "
            f"[{batch_size}, 1]; got {list(output.shape)}"
        )
    return output


@dataclass(frozen=True)
class _Encoded:
    """The training split as tensors."""

    numeric: torch.Tensor
    codes: torch.Tensor
    target: torch.Tensor

    @property
    def rows(self) -> int:
        return int(self.numeric.shape[0])


@dataclass(frozen=True)
class _Schedule:
    """Poisson sampling: each row in a batch independently with probability q."""

    sample_rate: float
    steps_per_epoch: int
    epochs: int
    expected_batch_size: float

    @classmethod
    def poisson(cls, rows: int, batch_size: int, epochs: int) -> _Schedule:
        sample_rate = min(1.0, batch_size / rows)
        steps = max(1, int(1 / sample_rate))  # as Opacus's Poisson sampler
        return cls(sample_rate, steps, epochs, sample_rate * rows)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


@dataclass(frozen=True)
class _Budget:
    """The (ε, δ) a private run targets and the noise multiplier that buys it."""

    epsilon: float
    delta: float
    noise_multiplier: float

    @classmethod
    def of(
        cls, view: AuthorisedView, schedule: _Schedule, epsilon: float | None, delta: float | None
    ) -> _Budget:
        manifest = view.manifest
        epsilon, delta = resolve_budget(manifest.dp, manifest.scenario, epsilon, delta)
        sigma = calibrate_noise(epsilon, delta, schedule.sample_rate, schedule.total_steps)
        return cls(epsilon, delta, sigma)

    def spent(self, schedule: _Schedule, steps: int) -> PrivacySpent:
        return privacy_spent(self.noise_multiplier, schedule.sample_rate, steps, self.delta)


def fit(
    view: AuthorisedView,
    model: nn.Module | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 512,
    learning_rate: float = 0.5,
    momentum: float = 0.0,
    max_grad_norm: float = 1.0,
    epsilon: float | None = None,
    delta: float | None = None,
    private: bool = True,
    grad_mode: GradMode = "auto",
    loss_fn: LossFn | None = None,
    preprocessor: Preprocessor | None = None,
    features: Sequence[str] | None = None,
    seed: int = 0,
    threads: int | None = None,
    evaluate_each_epoch: bool = True,
) -> TrainResult:
    """Train `model` (default: a TabularMLP for the view) with DP-SGD within the
    scenario's budget. `epsilon`/`delta` may only be lower than the budget's.
    `features` trains on a subset of the view's features (the model's inputs are then
    exactly those, in the view's order).

    The model takes (numeric [B, n] float32, codes [B, k] int64) and returns [B] or
    [B, 1]; `loss_fn(output, target)` must return per-sample losses.
    """
    if epochs < 1 or batch_size < 1:
        raise ShuyuError(f"epochs and batch_size must be ≥ 1 (got {epochs}, {batch_size})")
    if threads is not None:
        torch.set_num_threads(threads)
    manifest = view.manifest
    task = manifest.label.task
    preprocessor = _preprocessor(view, preprocessor, features)
    data = _encoded(view, preprocessor)
    if data.rows == 0:
        raise ShuyuError(f"view {manifest.scenario} has no training rows")

    torch.manual_seed(seed)
    if model is None:
        model = TabularMLP(len(preprocessor.numeric), preprocessor.vocabulary_sizes)
    loss_fn = loss_fn or default_loss(task)
    schedule = _Schedule.poisson(data.rows, batch_size, epochs)
    budget = _Budget.of(view, schedule, epsilon, delta) if private else None
    mode = choose_step(model, grad_mode, private=private)

    def batch_loss(module: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        out = _flat_output(module(data.numeric[idx], data.codes[idx]), len(idx))
        return per_sample_loss(loss_fn(out, data.target[idx]), len(idx))

    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
    sampler = torch.Generator().manual_seed(seed)
    step = STEPS[mode](
        StepSetup(
            model=model,
            optimizer=optimizer,
            batch_loss=batch_loss,
            max_grad_norm=max_grad_norm,
            noise_multiplier=budget.noise_multiplier if budget else 0.0,
            expected_batch_size=schedule.expected_batch_size,
            noise=torch.Generator().manual_seed(seed + 1),
        )
    )

    history: list[EpochMetrics] = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        with step.epoch():
            for _ in range(schedule.steps_per_epoch):
                step(_poisson_batch(data.rows, schedule.sample_rate, sampler))
        seconds = time.perf_counter() - started
        measured = evaluate_each_epoch or epoch == epochs
        loss_value, auc = _evaluate(model, data, loss_fn, task) if measured else (nan, None)
        spent = (
            budget.spent(schedule, epoch * schedule.steps_per_epoch).epsilon
            if budget and measured
            else None
        )
        history.append(EpochMetrics(epoch, loss_value, auc, spent, seconds))

    privacy = budget.spent(schedule, schedule.total_steps) if budget else None
    if privacy is not None and budget is not None and privacy.epsilon > budget.epsilon:
        # calibration searched for σ with ε ≤ target, so this is a bug, never a silent overspend
        raise ShuyuError(
            f"spent ε={privacy.epsilon:.4f} exceeds the target {budget.epsilon}: model discarded"
        )
    model.eval()
    return TrainResult(
        model=model,
        preprocessor=preprocessor,
        view=view,
        dp=private,
        privacy=privacy,
        grad_mode=mode,
        params=_params(
            model,
            preprocessor,
            schedule,
            budget,
            mode=mode,
            rows=data.rows,
            seed=seed,
            learning_rate=learning_rate,
            momentum=momentum,
            max_grad_norm=max_grad_norm,
            batch_size=batch_size,
        ),
        history=history,
    )


def _preprocessor(
    view: AuthorisedView, given: Preprocessor | None, features: Sequence[str] | None
) -> Preprocessor:
    if given is None:
        return fit_preprocessor(view.manifest, view.frame, features=features)
    if features is not None and [f.name for f in given.features] != [
        name for name in view.manifest.feature_names if name in set(features)
    ]:
        raise InputError(
            "features",
            "differ from the features of the preprocessor given",
            value=list(features),
            hint="pass one of them, or a preprocessor fitted on these features",
        )
    return given


def _encoded(view: AuthorisedView, preprocessor: Preprocessor) -> _Encoded:
    encoded = encode(preprocessor, view.frame)
    return _Encoded(
        numeric=torch.from_numpy(encoded.numeric),
        codes=torch.from_numpy(encoded.codes),
        target=torch.from_numpy(
            label_values(view.manifest.label, view.frame, view.manifest.label.task)
        ),
    )


def _params(
    model: nn.Module,
    preprocessor: Preprocessor,
    schedule: _Schedule,
    budget: _Budget | None,
    *,
    mode: str,
    rows: int,
    seed: int,
    learning_rate: float,
    momentum: float,
    max_grad_norm: float,
    batch_size: int,
) -> dict[str, object]:
    """The run's parameters as MLflow records them."""
    params: dict[str, object] = {
        "epochs": schedule.epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "momentum": momentum,
        "optimizer": "sgd",
        "seed": seed,
        "sampling": "poisson",
        "grad_mode": mode,
        "model": type(model).__name__,
        "n_train": rows,
        "preprocessing_data_independent": preprocessor.data_independent,
        "features": ",".join(f.name for f in preprocessor.features),
    }
    if budget is not None:
        params |= {
            "target_epsilon": budget.epsilon,
            "target_delta": budget.delta,
            "max_grad_norm": max_grad_norm,
            "noise_multiplier": budget.noise_multiplier,
            "sample_rate": schedule.sample_rate,
            "steps": schedule.total_steps,
        }
    return params


def _poisson_batch(n: int, sample_rate: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=generator) < sample_rate).nonzero().squeeze(1)


@torch.no_grad()
def _evaluate(
    model: nn.Module, data: _Encoded, loss_fn: LossFn, task: str
) -> tuple[float, float | None]:
    model.eval()
    rows = data.rows
    out = _flat_output(model(data.numeric, data.codes), rows)
    loss = float(per_sample_loss(loss_fn(out, data.target), rows).mean())
    auc = roc_auc(data.target.numpy(), out.numpy()) if task == "classification" else None
    return loss, auc


def predict(result: TrainResult, frame: object) -> np.ndarray:
    """Scores (probabilities for classification) of the trained model on `frame`
    (a polars DataFrame with the view's feature columns)."""
    import polars as pl  # noqa: PLC0415

    assert isinstance(frame, pl.DataFrame)
    features = encode(result.preprocessor, frame)
    with torch.no_grad():
        out = _flat_output(
            result.model(torch.from_numpy(features.numeric), torch.from_numpy(features.codes)),
            frame.height,
        )
        if result.view.manifest.label.task == "classification":
            out = torch.sigmoid(out)
    return out.numpy()
