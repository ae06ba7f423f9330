"""The [B, 1] loss pitfall: Opacus's ghost-clipping criterion multiplies the per-sample
loss by a [B] coefficient, so a [B, 1] loss broadcasts to [B, B] and the gradients are
silently wrong. shuyu flattens a [B, 1] loss and refuses any other non-[B] shape."""

from __future__ import annotations

import copy

import pytest
import torch
from opacus.grad_sample import GradSampleModuleFastGradientClipping
from opacus.optimizers import DPOptimizerFastGradientClipping
from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping
from torch import nn

from shuyu.errors import ShuyuError
from shuyu.train.bookkeeping import BookkeepingClipper
from shuyu.train.private import per_sample_loss

C = 0.5
B = 16


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.randn(B, 5, generator=g) * 3, torch.randint(0, 2, (B, 1), generator=g).double()


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1)).double()  # output [B, 1]


def ghost_clipping_grads(net: nn.Module, squeeze: bool) -> list[torch.Tensor]:
    x, y = data()
    gsm = GradSampleModuleFastGradientClipping(
        net, max_grad_norm=C, use_ghost_clipping=True, loss_reduction="mean"
    )
    optimizer = DPOptimizerFastGradientClipping(
        torch.optim.SGD(gsm.parameters(), lr=0.1),
        noise_multiplier=0.0,
        max_grad_norm=C,
        expected_batch_size=B,
        loss_reduction="mean",
    )
    criterion = DPLossFastGradientClipping(gsm, optimizer, nn.BCEWithLogitsLoss(), "mean")
    out = gsm(x)
    loss = criterion(out.squeeze(1), y.squeeze(1)) if squeeze else criterion(out, y)
    loss.backward()
    optimizer.pre_step()
    return [p.grad.detach().clone() for p in net.parameters()]  # type: ignore[union-attr]


def shuyu_grads(net: nn.Module) -> list[torch.Tensor]:
    x, y = data()
    clipper = BookkeepingClipper(net, max_grad_norm=C, noise_multiplier=0.0)
    with clipper.active():
        raw = nn.functional.binary_cross_entropy_with_logits(net(x), y, reduction="none")
        assert raw.shape == (B, 1)  # the pitfall's shape reaches our API ...
        clipper.clipped_noised_gradients(per_sample_loss(raw, B), expected_batch_size=B)
    return [p.grad.detach().clone() for p in net.parameters()]  # type: ignore[union-attr]


def test_naive_ghost_clipping_with_a_b_by_1_loss_gives_wrong_gradients() -> None:
    torch.set_default_dtype(torch.float64)
    try:
        net = model()
        right = ghost_clipping_grads(copy.deepcopy(net), squeeze=True)
        wrong = ghost_clipping_grads(copy.deepcopy(net), squeeze=False)
        ours = shuyu_grads(copy.deepcopy(net))
    finally:
        torch.set_default_dtype(torch.float32)
    # no error was raised, yet the [B, 1] gradients are not the clipped mean gradient
    assert any(not torch.allclose(w, r, atol=1e-6) for w, r in zip(wrong, right, strict=True))
    # ... while shuyu, given the same [B, 1] loss, matches the correct result
    for o, r in zip(ours, right, strict=True):
        torch.testing.assert_close(o, r, rtol=0, atol=1e-6)


def test_other_loss_shapes_are_refused_with_a_clear_message() -> None:
    assert per_sample_loss(torch.zeros(4, 1), 4).shape == (4,)
    with pytest.raises(ShuyuError, match=r"one value per sample.*got \[4, 2\]"):
        per_sample_loss(torch.zeros(4, 2), 4)
    with pytest.raises(ShuyuError, match=r"got \[\]"):
        per_sample_loss(torch.zeros(()), 4)
