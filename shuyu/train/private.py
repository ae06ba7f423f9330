"""Train a model on an authorised view with differential privacy (DP-SGD).

    from shuyu.train.view import load_view, view_directory
    from shuyu.train.private import fit
    result = fit(load_view(view_directory("bank_credit")), epochs=10)
    result.privacy.epsilon  # ≤ the scenario's ε, by Opacus's PRV accountant

Batches are Poisson-sampled (each row independently with probability q = batch/N), the
sampling the accountants assume. Per-sample clipping and noise use the book-keeping
fast path when the model is made of Linear/Embedding layers (`grad_mode="auto"`), and
Opacus's GradSampleModule + DPOptimizer otherwise; both give the same gradient (tested).

The training loss and AUC recorded per epoch are plain (non-private) aggregates over the
whole training split, for the partner's own monitoring; the model is what DP protects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from shuyu.errors import ShuyuError
from shuyu.train.accounting import PrivacySpent, calibrate_noise, privacy_spent, resolve_budget
from shuyu.train.bookkeeping import BookkeepingClipper, ineligible_modules, supported_layers
from shuyu.train.metrics import roc_auc
from shuyu.train.models import TabularMLP
from shuyu.train.preprocess import Preprocessor, encode, fit_preprocessor, label_values
from shuyu.train.view import AuthorisedView

GradMode = Literal["auto", "bookkeeping", "opacus"]
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


def _choose_grad_mode(model: nn.Module, grad_mode: GradMode) -> str:
    bad = ineligible_modules(model)
    if grad_mode == "auto":
        return "opacus" if bad else "bookkeeping"
    if grad_mode == "bookkeeping" and bad:
        raise ShuyuError(
            f"grad_mode='bookkeeping' needs {supported_layers()} layers only; not: {', '.join(bad)}"
        )
    return grad_mode


def fit(  # noqa: PLR0912, PLR0915 - one training loop, read top to bottom
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
    seed: int = 0,
    threads: int | None = None,
    evaluate_each_epoch: bool = True,
) -> TrainResult:
    """Train `model` (default: a TabularMLP for the view) with DP-SGD within the
    scenario's budget. `epsilon`/`delta` may only be lower than the budget's.

    The model takes (numeric [B, n] float32, codes [B, k] int64) and returns [B] or
    [B, 1]; `loss_fn(output, target)` must return per-sample losses.
    """
    if epochs < 1 or batch_size < 1:
        raise ShuyuError(f"epochs and batch_size must be ≥ 1 (got {epochs}, {batch_size})")
    if threads is not None:
        torch.set_num_threads(threads)
    manifest = view.manifest
    task = manifest.label.task
    preprocessor = preprocessor or fit_preprocessor(manifest, view.frame)
    features = encode(preprocessor, view.frame)
    numeric = torch.from_numpy(features.numeric)
    codes = torch.from_numpy(features.codes)
    target = torch.from_numpy(label_values(manifest.label, view.frame, task))
    n = numeric.shape[0]
    if n == 0:
        raise ShuyuError(f"view {manifest.scenario} has no training rows")

    torch.manual_seed(seed)
    if model is None:
        model = TabularMLP(len(preprocessor.numeric), preprocessor.vocabulary_sizes)
    loss_fn = loss_fn or default_loss(task)
    sample_rate = min(1.0, batch_size / n)
    steps_per_epoch = max(1, int(1 / sample_rate))  # as Opacus's Poisson sampler
    total_steps = epochs * steps_per_epoch
    expected_batch_size = sample_rate * n

    noise_multiplier = 0.0
    target_epsilon = target_delta = None
    if private:
        target_epsilon, target_delta = resolve_budget(
            manifest.dp, manifest.scenario, epsilon, delta
        )
        noise_multiplier = calibrate_noise(target_epsilon, target_delta, sample_rate, total_steps)
        mode = _choose_grad_mode(model, grad_mode)
    else:
        mode = "none"

    base_optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
    sampler = torch.Generator().manual_seed(seed)
    noise_generator = torch.Generator().manual_seed(seed + 1)
    step: Callable[[torch.Tensor], None]
    clipper: BookkeepingClipper | None = None
    trained: nn.Module = model

    def batch_loss(module: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        out = _flat_output(module(numeric[idx], codes[idx]), len(idx))
        return per_sample_loss(loss_fn(out, target[idx]), len(idx))

    if mode == "bookkeeping":
        clipper = BookkeepingClipper(
            model, max_grad_norm=max_grad_norm, noise_multiplier=noise_multiplier
        )

        def step(idx: torch.Tensor) -> None:
            assert clipper is not None
            clipper.clipped_noised_gradients(
                batch_loss(model, idx),
                expected_batch_size=expected_batch_size,
                generator=noise_generator,
            )
            base_optimizer.step()

    elif mode == "opacus":
        from opacus import GradSampleModule  # noqa: PLC0415 - only for the fallback
        from opacus.optimizers import DPOptimizer  # noqa: PLC0415

        gsm = GradSampleModule(model, loss_reduction="mean")
        dp_optimizer = DPOptimizer(
            base_optimizer,
            noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm,
            expected_batch_size=max(1, round(expected_batch_size)),
            loss_reduction="mean",
            generator=noise_generator,
        )
        trained = gsm

        def step(idx: torch.Tensor) -> None:
            dp_optimizer.zero_grad()
            batch_loss(gsm, idx).mean().backward()  # type: ignore[no-untyped-call]
            dp_optimizer.step()

    else:

        def step(idx: torch.Tensor) -> None:
            base_optimizer.zero_grad()
            batch_loss(model, idx).mean().backward()  # type: ignore[no-untyped-call]
            base_optimizer.step()

    history: list[EpochMetrics] = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        trained.train()
        if clipper is not None:
            with clipper.active():
                for _ in range(steps_per_epoch):
                    step(_poisson_batch(n, sample_rate, sampler))
        else:
            for _ in range(steps_per_epoch):
                step(_poisson_batch(n, sample_rate, sampler))
        seconds = time.perf_counter() - started
        loss_value, auc = (float("nan"), None)
        if evaluate_each_epoch or epoch == epochs:
            loss_value, auc = _evaluate(
                model, numeric=numeric, codes=codes, target=target, loss_fn=loss_fn, task=task
            )
        spent = (
            privacy_spent(
                noise_multiplier, sample_rate, epoch * steps_per_epoch, target_delta
            ).epsilon
            if private and target_delta is not None and (evaluate_each_epoch or epoch == epochs)
            else None
        )
        history.append(EpochMetrics(epoch, loss_value, auc, spent, seconds))

    privacy = (
        privacy_spent(noise_multiplier, sample_rate, total_steps, target_delta)
        if private and target_delta is not None
        else None
    )
    if privacy is not None and target_epsilon is not None and privacy.epsilon > target_epsilon:
        # calibration searched for σ with ε ≤ target, so this is a bug, never a silent overspend
        raise ShuyuError(
            f"spent ε={privacy.epsilon:.4f} exceeds the target {target_epsilon}: model discarded"
        )
    model.eval()
    params: dict[str, object] = {
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "momentum": momentum,
        "optimizer": "sgd",
        "seed": seed,
        "sampling": "poisson",
        "grad_mode": mode,
        "model": type(model).__name__,
        "n_train": n,
        "preprocessing_data_independent": preprocessor.data_independent,
    }
    if private:
        params |= {
            "target_epsilon": target_epsilon,
            "target_delta": target_delta,
            "max_grad_norm": max_grad_norm,
            "noise_multiplier": noise_multiplier,
            "sample_rate": sample_rate,
            "steps": total_steps,
        }
    return TrainResult(
        model=model,
        preprocessor=preprocessor,
        view=view,
        dp=private,
        privacy=privacy,
        grad_mode=mode,
        params=params,
        history=history,
    )


def _poisson_batch(n: int, sample_rate: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=generator) < sample_rate).nonzero().squeeze(1)


@torch.no_grad()
def _evaluate(
    model: nn.Module,
    *,
    numeric: torch.Tensor,
    codes: torch.Tensor,
    target: torch.Tensor,
    loss_fn: LossFn,
    task: str,
) -> tuple[float, float | None]:
    model.eval()
    out = _flat_output(model(numeric, codes), numeric.shape[0])
    loss = float(per_sample_loss(loss_fn(out, target), numeric.shape[0]).mean())
    auc = roc_auc(target.numpy(), out.numpy()) if task == "classification" else None
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
