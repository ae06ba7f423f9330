"""The book-keeping fast path gives Opacus's DP-SGD gradient: exactly its clipped sum,
plus noise of exactly its distribution.

Reference for the clipped sum: Opacus's GradSampleModule (per-sample gradients
materialised by hooks) and DPOptimizer (clip, sum, scale) without noise. Float64
throughout so that 1e-6 tests the algorithm, not rounding. The noise is drawn in one
call for every parameter, so it is not Opacus's draw for the same seed; what DP-SGD
needs of it is its distribution, N(0, (σC)²) independently per coordinate, which the
statistical tests below check (and show they would catch a wrong σ).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import pytest
import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer
from scipy import stats
from torch import nn

from shuyu.errors import ShuyuError
from shuyu.train.bookkeeping import BookkeepingClipper, ineligible_modules
from shuyu.train.models import TabularMLP

SEED = 1234
MAX_GRAD_NORM = 0.7
NOISE = 1.3
EXPECTED_BATCH = 20.0


@pytest.fixture(autouse=True)
def float64() -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 1)

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.fc(numeric).squeeze(1)  # type: ignore[no-any-return]


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1)
        )

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.net(numeric).squeeze(1)  # type: ignore[no-any-return]


def embedding_mlp() -> nn.Module:
    return TabularMLP(6, [5, 3, 7], hidden=(16, 8), embedding_dim=3)


def batch(size: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    numeric = torch.randn(size, 6, generator=g) * 3  # large enough that most samples clip
    codes = torch.stack([torch.randint(0, n, (size,), generator=g) for n in (5, 3, 7)], dim=1)
    target = torch.randint(0, 2, (size,), generator=g).to(torch.float64)
    return numeric, codes, target


def opacus_reference(
    model: nn.Module, data: tuple[torch.Tensor, ...], noise: float = NOISE
) -> list[torch.Tensor]:
    numeric, codes, target = data
    gsm = GradSampleModule(model, loss_reduction="mean")
    optimizer = DPOptimizer(
        torch.optim.SGD(gsm.parameters(), lr=0.1),
        noise_multiplier=noise,
        max_grad_norm=MAX_GRAD_NORM,
        expected_batch_size=int(EXPECTED_BATCH),
        loss_reduction="mean",
        generator=torch.Generator().manual_seed(SEED),
    )
    loss = nn.functional.binary_cross_entropy_with_logits(gsm(numeric, codes), target)
    loss.backward()
    optimizer.pre_step()  # clip, accumulate, noise, scale: everything but the update
    return [p.grad.detach().clone() for p in model.parameters()]  # type: ignore[union-attr]


def bookkeeping(
    model: nn.Module, data: tuple[torch.Tensor, ...], noise: float = NOISE
) -> list[torch.Tensor]:
    numeric, codes, target = data
    clipper = BookkeepingClipper(model, max_grad_norm=MAX_GRAD_NORM, noise_multiplier=noise)
    with clipper.active():
        losses = nn.functional.binary_cross_entropy_with_logits(
            model(numeric, codes), target, reduction="none"
        )
        clipper.clipped_noised_gradients(
            losses,
            expected_batch_size=EXPECTED_BATCH,
            generator=torch.Generator().manual_seed(SEED),
        )
    return [p.grad.detach().clone() for p in model.parameters()]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "make_model", [Linear, MLP, embedding_mlp], ids=["linear", "mlp", "embedding_mlp"]
)
def test_clipped_sum_equals_opacus_per_sample_reference(
    make_model: Callable[[], nn.Module],
) -> None:
    torch.manual_seed(0)
    model = make_model()
    reference_model = copy.deepcopy(model)
    data = batch()
    expected = opacus_reference(reference_model, data, noise=0.0)
    got = bookkeeping(model, data, noise=0.0)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        torch.testing.assert_close(g, e, rtol=0, atol=1e-6)


def test_clipping_actually_happened_in_the_comparison() -> None:
    """Guard against a vacuous equality: with these inputs most samples exceed C."""
    torch.manual_seed(0)
    model = embedding_mlp()
    numeric, codes, target = batch()
    clipper = BookkeepingClipper(model, max_grad_norm=MAX_GRAD_NORM, noise_multiplier=0.0)
    with clipper.active():
        losses = nn.functional.binary_cross_entropy_with_logits(
            model(numeric, codes), target, reduction="none"
        )
        norms = clipper.clipped_noised_gradients(losses, expected_batch_size=EXPECTED_BATCH)
    assert (norms > MAX_GRAD_NORM).float().mean() > 0.5
    assert (norms < MAX_GRAD_NORM).any()


def test_per_sample_norms_match_materialised_per_sample_gradients() -> None:
    torch.manual_seed(0)
    model = embedding_mlp()
    reference = copy.deepcopy(model)
    numeric, codes, target = batch(10)
    gsm = GradSampleModule(reference, loss_reduction="sum")
    nn.functional.binary_cross_entropy_with_logits(
        gsm(numeric, codes), target, reduction="sum"
    ).backward()
    per_param = [p.grad_sample.reshape(10, -1).norm(dim=1) for p in reference.parameters()]  # type: ignore[union-attr]
    expected = torch.stack(per_param, dim=1).norm(dim=1)
    clipper = BookkeepingClipper(model, max_grad_norm=1e9, noise_multiplier=0.0)
    with clipper.active():
        losses = nn.functional.binary_cross_entropy_with_logits(
            model(numeric, codes), target, reduction="none"
        )
        norms = clipper.clipped_noised_gradients(losses, expected_batch_size=1.0)
    torch.testing.assert_close(norms, expected, rtol=0, atol=1e-9)


def test_empty_poisson_batch_gives_noise_only() -> None:
    model = MLP()
    clipper = BookkeepingClipper(model, max_grad_norm=1.0, noise_multiplier=1.0)
    with clipper.active():
        losses = model(torch.zeros(0, 6), torch.zeros(0, 0, dtype=torch.long))
        clipper.clipped_noised_gradients(losses, expected_batch_size=4.0)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_model_forward_is_restored_after_training() -> None:
    model = MLP()
    x = torch.randn(3, 6)
    before = model(x, x).detach()
    clipper = BookkeepingClipper(model, max_grad_norm=1.0, noise_multiplier=0.0)
    with clipper.active():
        pass
    assert all("forward" not in vars(m) for m in model.modules())
    torch.testing.assert_close(model(x, x), before)


def test_other_parameterised_layers_are_not_eligible() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    assert ineligible_modules(model) == ["1 (LayerNorm)"]
    with pytest.raises(ShuyuError, match="grad_mode='opacus'"):
        BookkeepingClipper(model, max_grad_norm=1.0, noise_multiplier=1.0)
    assert ineligible_modules(nn.Sequential(nn.Embedding(4, 2, padding_idx=0))) != []


def test_a_layer_used_twice_is_refused() -> None:
    layer = nn.Linear(3, 3)
    clipper = BookkeepingClipper(layer, max_grad_norm=1.0, noise_multiplier=0.0)
    with clipper.active(), pytest.raises(ShuyuError, match="more than once"):
        layer(layer(torch.randn(2, 3)))


class BagOfCodes(nn.Module):
    """One table looked up several times per sample, repeats included."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(4, 3)
        self.out = nn.Linear(3, 1)

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.out(self.table(codes).sum(dim=1)).squeeze(1)  # type: ignore[no-any-return]


def test_repeated_lookups_within_a_sample_match_opacus() -> None:
    torch.manual_seed(0)
    model = BagOfCodes()
    reference = copy.deepcopy(model)
    numeric, _, target = batch()
    codes = torch.randint(0, 4, (numeric.shape[0], 5), generator=torch.Generator().manual_seed(1))
    assert any(len(set(row.tolist())) < 5 for row in codes)  # repeats present
    data = (numeric, codes, target)
    expected = opacus_reference(reference, data, noise=0.0)
    got = bookkeeping(model, data, noise=0.0)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- the noise

NOISE_STEPS = 300
SIGNIFICANCE = 1e-3  # seeds are fixed: the outcome is deterministic, this is its margin


def noise_draws(noise: float = NOISE, steps: int = NOISE_STEPS) -> torch.Tensor:
    """[steps, parameters] of the noise the fast path adds: each step's gradient minus
    the clipped sum, times the expected batch size (the batch is the same every step)."""
    torch.manual_seed(0)
    model = embedding_mlp()
    data = batch()
    clean = torch.cat([g.flatten() for g in bookkeeping(copy.deepcopy(model), data, 0.0)])
    numeric, codes, target = data
    clipper = BookkeepingClipper(model, max_grad_norm=MAX_GRAD_NORM, noise_multiplier=noise)
    generator = torch.Generator().manual_seed(SEED)
    draws = []
    with clipper.active():
        for _ in range(steps):
            losses = nn.functional.binary_cross_entropy_with_logits(
                model(numeric, codes), target, reduction="none"
            )
            clipper.clipped_noised_gradients(
                losses, expected_batch_size=EXPECTED_BATCH, generator=generator
            )
            noised = torch.cat([p.grad.flatten() for p in model.parameters()])  # type: ignore[union-attr]
            draws.append((noised - clean) * EXPECTED_BATCH)
    return torch.stack(draws)


def departures_from_gaussian(draws: torch.Tensor, std: float) -> list[str]:
    """What contradicts `draws` being independent N(0, std²) values; nothing if none."""
    z = (draws / std).numpy()
    steps = z.shape[0]
    n = z.size
    found = []
    p_value = stats.kstest(z.ravel(), "norm").pvalue
    if p_value < SIGNIFICANCE:
        found.append(f"Kolmogorov-Smirnov against N(0, 1): p = {p_value:.2g}")
    # mean and variance of each coordinate over the steps, and of everything pooled;
    # bounds at 5 standard errors
    if abs(z.mean(axis=0)).max() > 5 / steps**0.5:
        found.append("a coordinate's mean is not 0")
    if abs(z.var(axis=0) - 1).max() > 5 * (2 / steps) ** 0.5:
        found.append("a coordinate's variance is not std²")
    if abs(z.var() - 1) > 5 * (2 / n) ** 0.5:
        found.append(f"the pooled variance is {z.var():.4f} std², not std²")
    # no noise shared between neighbouring coordinates or consecutive steps
    across = float((z[:, :-1] * z[:, 1:]).mean())
    over_time = float((z[:-1] * z[1:]).mean())
    if max(abs(across), abs(over_time)) > 5 / n**0.5:
        found.append(f"correlated draws ({across:.3f} across, {over_time:.3f} over steps)")
    return found


def test_the_noise_is_independent_gaussian_with_opacus_s_scale() -> None:
    draws = noise_draws()
    assert draws.shape[1] == sum(p.numel() for p in embedding_mlp().parameters())
    assert departures_from_gaussian(draws, NOISE * MAX_GRAD_NORM) == []


@pytest.mark.parametrize("wrong", [0.9, 1.1])
def test_the_noise_test_fails_for_a_wrong_sigma(wrong: float) -> None:
    draws = noise_draws()
    found = departures_from_gaussian(draws, wrong * NOISE * MAX_GRAD_NORM)
    assert any(f.startswith("Kolmogorov-Smirnov") for f in found)
    assert any(f.startswith("the pooled variance") for f in found)


def test_the_noise_test_fails_for_noise_repeated_across_parameters() -> None:
    draws = noise_draws()
    repeated = torch.cat([draws[:, :1].expand(-1, draws.shape[1] // 2), draws[:, 1:]], dim=1)
    assert departures_from_gaussian(repeated[:, : draws.shape[1]], NOISE * MAX_GRAD_NORM)


def test_the_same_generator_state_gives_the_same_noise() -> None:
    torch.testing.assert_close(noise_draws(steps=3), noise_draws(steps=3), rtol=0, atol=0)


def test_without_noise_the_gradient_is_the_clipped_sum_alone() -> None:
    assert noise_draws(noise=0.0, steps=2).abs().max() < 1e-12
