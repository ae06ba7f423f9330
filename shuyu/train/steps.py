"""How one optimisation step turns a batch into an update: one class per gradient mode,
registered by name, and `fit` picks one.

* `none`: plain SGD, the non-private baseline (tagged dp=false);
* `bookkeeping`: per-sample clipping and noise in one backward pass
  (`shuyu.train.bookkeeping`), for models of the layers it supports;
* `opacus`: Opacus's GradSampleModule and DPOptimizer, for any other model.

Both private steps give the gradient Opacus's DP-SGD defines: the clipped sum plus
N(0, (σC)²) noise per coordinate, over the expected batch size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

import torch
from torch import nn

from shuyu.errors import ShuyuError
from shuyu.train.bookkeeping import BookkeepingClipper, ineligible_modules, supported_layers

GradMode = Literal["auto", "bookkeeping", "opacus"]
BatchLoss = Callable[[nn.Module, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class StepSetup:
    model: nn.Module
    optimizer: torch.optim.Optimizer  # the plain optimizer; private steps wrap its update
    batch_loss: BatchLoss  # per-sample losses [B] of the rows `idx`, through a module
    max_grad_norm: float
    noise_multiplier: float
    expected_batch_size: float
    noise: torch.Generator


class GradientStep:
    """One optimisation step on the rows `idx` of the training split."""

    def __init__(self, setup: StepSetup) -> None:
        self.setup = setup
        self.module: nn.Module = setup.model  # what the batch goes through

    @classmethod
    def cannot_train(cls, model: nn.Module) -> list[str]:
        """Why this step cannot train `model` (nothing: it can)."""
        return []

    @contextlib.contextmanager
    def epoch(self) -> Iterator[None]:
        """Around the steps of one epoch."""
        self.module.train()
        yield

    def __call__(self, idx: torch.Tensor) -> None:
        raise NotImplementedError


STEPS: dict[str, type[GradientStep]] = {}
S = TypeVar("S", bound=type[GradientStep])


def gradient_step(name: str) -> Callable[[S], S]:
    def register(step: S) -> S:
        STEPS[name] = step
        return step

    return register


@gradient_step("none")
class NonPrivateStep(GradientStep):
    def __call__(self, idx: torch.Tensor) -> None:
        optimizer = self.setup.optimizer
        optimizer.zero_grad()
        self.setup.batch_loss(self.module, idx).mean().backward()  # type: ignore[no-untyped-call]
        optimizer.step()


@gradient_step("bookkeeping")
class BookkeepingStep(GradientStep):
    def __init__(self, setup: StepSetup) -> None:
        super().__init__(setup)
        self.clipper = BookkeepingClipper(
            setup.model,
            max_grad_norm=setup.max_grad_norm,
            noise_multiplier=setup.noise_multiplier,
        )

    @classmethod
    def cannot_train(cls, model: nn.Module) -> list[str]:
        return ineligible_modules(model)

    @contextlib.contextmanager
    def epoch(self) -> Iterator[None]:
        self.module.train()
        with self.clipper.active():
            yield

    def __call__(self, idx: torch.Tensor) -> None:
        self.clipper.clipped_noised_gradients(
            self.setup.batch_loss(self.module, idx),
            expected_batch_size=self.setup.expected_batch_size,
            generator=self.setup.noise,
        )
        self.setup.optimizer.step()


@gradient_step("opacus")
class OpacusStep(GradientStep):
    def __init__(self, setup: StepSetup) -> None:
        super().__init__(setup)
        from opacus import GradSampleModule  # noqa: PLC0415 - only for the fallback
        from opacus.optimizers import DPOptimizer  # noqa: PLC0415

        self.module = GradSampleModule(setup.model, loss_reduction="mean")
        self.optimizer = DPOptimizer(
            setup.optimizer,
            noise_multiplier=setup.noise_multiplier,
            max_grad_norm=setup.max_grad_norm,
            expected_batch_size=max(1, round(setup.expected_batch_size)),
            loss_reduction="mean",
            generator=setup.noise,
        )

    def __call__(self, idx: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        self.setup.batch_loss(self.module, idx).mean().backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()


def choose_step(model: nn.Module, grad_mode: GradMode, *, private: bool) -> str:
    """The registered step that trains `model`: `none` without privacy; with it, the
    fast path where it applies (`auto`) or the mode asked for."""
    if not private:
        return "none"
    if grad_mode == "auto":
        return "opacus" if STEPS["bookkeeping"].cannot_train(model) else "bookkeeping"
    bad = STEPS[grad_mode].cannot_train(model)
    if bad:
        raise ShuyuError(
            f"grad_mode={grad_mode!r} needs {supported_layers()} layers only; not: {', '.join(bad)}"
        )
    return grad_mode
