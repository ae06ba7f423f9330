"""Book-keeping DP-SGD (Bu et al. 2023): per-sample clipping in ONE backward pass.

For a model whose parameters all sit in nn.Linear and nn.Embedding layers, the
per-sample gradient of a layer is an outer product of its input activation a_i and the
gradient g_i of the loss of sample i with respect to its output:

* Linear weight, 2-D input:   ∇W_i = g_i a_iᵀ, so ‖∇W_i‖ = ‖g_i‖·‖a_i‖ (exact);
  3-D input [B, T, d]: ‖∇W_i‖² = Σ_{t,s} (a_it·a_is)(g_it·g_is) (ghost norm);
* Linear bias:                ∇b_i = g_i (summed over T);
* Embedding weight: row idx_i receives g_i, so ‖∇E_i‖² = Σ_{l,l'} [idx_l = idx_l'] g_l·g_l'.

So one backward pass yields every per-sample norm, hence the clip factors
c_i = min(1, C / (‖∇_i‖ + 1e-6)) (Opacus's formula), and the clipped sum
Σ_i c_i ∇_i = (c ⊙ g)ᵀ a is one weighted matmul per layer; no per-sample gradient is
ever materialised, and no second backward pass is needed (ghost clipping needs two).

The layers run through autograd functions whose backward records (a, g) and returns
the input gradient only: the ordinary (unclipped) weight gradient, which autograd
would otherwise compute and we would throw away, is never computed. That is what
makes the DP step cost about one non-private step.

Noise is added as Opacus's DPOptimizer adds it (N(0, (σC)²) per parameter, in parameter
order, from the given generator) and the sum is divided by the expected batch size, so
the resulting `.grad` equals Opacus's for the same seed;
tests/unit/test_train_bookkeeping.py proves it against Opacus's per-sample reference.

The supported layer types are the `LayerRule`s registered in `SUPPORTED`; anything else
holding parameters (normalisation, convolutions, custom layers) is not eligible: `fit`
falls back to Opacus's GradSampleModule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from shuyu.errors import ShuyuError

CLIP_EPSILON = 1e-6  # as Opacus: C / (norm + 1e-6)
DISJOINT_ROWS = "shuyu_disjoint_rows"
"""Attribute a model sets on an nn.Embedding whose lookups never repeat a row within one
sample (one table, each feature's codes offset into its own rows): the per-sample norm
then needs no duplicate search. Set it only where construction guarantees it."""


@dataclass
class _Record:
    """What one layer's backward left behind for the current step."""

    activation: torch.Tensor | None = None  # Linear input, or Embedding indices
    output_grad: torch.Tensor | None = None
    calls: int = 0


class LayerRule:
    """How the fast path handles one layer type: its forward through an autograd function
    that records (a, g), the per-sample squared gradient norm from them, and the clipped
    gradient sums of its parameters. One subclass per supported type, registered with
    `@supports(type)`, as Opacus registers its grad samplers."""

    def eligible(self, module: nn.Module) -> bool:
        return True

    def forward(self, module: Any, x: torch.Tensor, record: _Record) -> torch.Tensor:
        raise NotImplementedError

    def norms2(self, module: Any, a: torch.Tensor, g: torch.Tensor) -> Iterator[torch.Tensor]:
        """‖∇_i‖² of each trainable parameter, shape [B]."""
        raise NotImplementedError

    def clipped_sums(
        self, module: Any, a: torch.Tensor, cg: torch.Tensor
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(parameter, Σ_i c_i ∇_i) for each trainable parameter, from the clipped g."""
        raise NotImplementedError


SUPPORTED: dict[type[nn.Module], LayerRule] = {}
"""The layer types the fast path handles, by exact type (a subclass may change forward)."""

Rule = TypeVar("Rule", bound=type[LayerRule])


def supports(layer: type[nn.Module]) -> Callable[[Rule], Rule]:
    def register(rule: Rule) -> Rule:
        SUPPORTED[layer] = rule()
        return rule

    return register


def supported_layers() -> str:
    """The supported layer types, for messages: `nn.Linear/nn.Embedding`."""
    return "/".join(f"nn.{layer.__name__}" for layer in SUPPORTED)


def ineligible_modules(model: nn.Module) -> list[str]:
    """Names of the modules the fast path cannot handle (empty if it applies)."""
    bad: list[str] = []
    for name, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if not own:
            continue
        rule = SUPPORTED.get(type(module))
        if rule is not None and rule.eligible(module):
            continue
        bad.append(f"{name or '<root>'} ({type(module).__name__})")
    return bad


@dataclass
class _Layer:
    module: nn.Module
    rule: LayerRule
    record: _Record = field(default_factory=_Record)


class _LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, record: _Record
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.record = record
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None]:
        x, weight = ctx.saved_tensors
        ctx.record.activation, ctx.record.output_grad = x, grad_out
        grad_x = grad_out @ weight if ctx.needs_input_grad[0] else None
        return grad_x, None, None, None


class _EmbeddingFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, indices: torch.Tensor, weight: torch.Tensor, record: _Record
    ) -> torch.Tensor:
        ctx.save_for_backward(indices)
        ctx.record = record
        return F.embedding(indices, weight)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[None, None, None]:
        (indices,) = ctx.saved_tensors
        ctx.record.activation, ctx.record.output_grad = indices, grad_out
        return None, None, None


@supports(nn.Linear)
class _Linear(LayerRule):
    def forward(self, module: nn.Linear, x: torch.Tensor, record: _Record) -> torch.Tensor:
        out: torch.Tensor = _LinearFunction.apply(  # type: ignore[no-untyped-call]
            x, module.weight, module.bias, record
        )
        return out

    def norms2(self, module: nn.Linear, a: torch.Tensor, g: torch.Tensor) -> Iterator[torch.Tensor]:
        if module.weight.requires_grad:
            yield _linear_weight_norm2(a, g)
        if module.bias is not None and module.bias.requires_grad:
            gb = g if g.dim() == 2 else g.sum(dim=tuple(range(1, g.dim() - 1)))
            yield gb.pow(2).sum(dim=1)

    def clipped_sums(
        self, module: nn.Linear, a: torch.Tensor, cg: torch.Tensor
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        flat_g = cg.reshape(-1, cg.shape[-1])
        if module.weight.requires_grad:
            yield module.weight, flat_g.T @ a.reshape(-1, a.shape[-1])
        if module.bias is not None and module.bias.requires_grad:
            yield module.bias, flat_g.sum(dim=0)


@supports(nn.Embedding)
class _Embedding(LayerRule):
    def eligible(self, module: nn.Module) -> bool:
        assert isinstance(module, nn.Embedding)
        return (
            module.padding_idx is None
            and module.max_norm is None
            and not module.scale_grad_by_freq
            and not module.sparse
        )

    def forward(self, module: nn.Embedding, x: torch.Tensor, record: _Record) -> torch.Tensor:
        out: torch.Tensor = _EmbeddingFunction.apply(  # type: ignore[no-untyped-call]
            x, module.weight, record
        )
        return out

    def norms2(
        self, module: nn.Embedding, a: torch.Tensor, g: torch.Tensor
    ) -> Iterator[torch.Tensor]:
        if module.weight.requires_grad:
            yield _embedding_norm2(a, g, disjoint=getattr(module, DISJOINT_ROWS, False))

    def clipped_sums(
        self, module: nn.Embedding, a: torch.Tensor, cg: torch.Tensor
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if module.weight.requires_grad:
            weight = module.weight
            # the kernel autograd's own embedding backward uses: much faster on CPU
            # than index_add_ for many rows into a small table
            yield (
                weight,
                torch.ops.aten.embedding_dense_backward(
                    cg.reshape(-1, weight.shape[1]), a.reshape(-1), weight.shape[0], -1, False
                ),
            )


def _patched_forward(layer: _Layer) -> Any:
    module = layer.module

    def forward(x: torch.Tensor) -> torch.Tensor:
        record = layer.record
        record.calls += 1
        if record.calls > 1:
            # a layer applied twice has a per-sample gradient that is the sum over uses,
            # whose norm is not the sum of the uses' norms
            raise ShuyuError(
                "book-keeping fast path: a layer is used more than once per forward pass; "
                "train with grad_mode='opacus'"
            )
        return layer.rule.forward(module, x, record)

    return forward


class BookkeepingClipper:
    """Per-sample clipping and noise for an eligible model, one backward per step.

    Use `with clipper.active():` around training; the model's own forward is restored
    on exit (for evaluation and ONNX export).
    """

    def __init__(self, model: nn.Module, *, max_grad_norm: float, noise_multiplier: float) -> None:
        bad = ineligible_modules(model)
        if bad:
            raise ShuyuError(
                f"book-keeping fast path needs a model of {supported_layers()} only; "
                f"not: {', '.join(bad)}; train with grad_mode='opacus'"
            )
        self.model = model
        self.max_grad_norm = max_grad_norm
        self.noise_multiplier = noise_multiplier
        self.layers = [
            _Layer(m, SUPPORTED[type(m)]) for m in model.modules() if type(m) in SUPPORTED
        ]
        # noise goes in the same order as Opacus's optimizer: model.parameters()
        self.params = [p for p in model.parameters() if p.requires_grad]

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self._reset()
        for layer in self.layers:
            layer.module.forward = _patched_forward(layer)
        try:
            yield
        finally:
            self._reset()
            for layer in self.layers:
                del layer.module.forward

    def _reset(self) -> None:
        # a fresh record per step: the autograd functions of this step's graph hold it
        for layer in self.layers:
            layer.record = _Record()

    def per_sample_norms_squared(self, batch_size: int) -> torch.Tensor:
        dtype = self.params[0].dtype if self.params else torch.float32
        total = torch.zeros(batch_size, dtype=dtype)
        for layer in self.layers:
            a, g = layer.record.activation, layer.record.output_grad
            if a is None or g is None:
                continue  # the layer got no gradient this step (not on the loss's path)
            for norm2 in layer.rule.norms2(layer.module, a, g):
                total += norm2
        return total

    def clipped_noised_gradients(
        self,
        loss_per_sample: torch.Tensor,
        *,
        expected_batch_size: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Backward once through `loss_per_sample` ([B]) and set every parameter's
        `.grad` to (Σ_i c_i ∇_i + N(0, (σC)²)) / expected_batch_size, like Opacus.
        Returns the per-sample gradient norms (before clipping)."""
        batch_size = loss_per_sample.shape[0]
        try:
            for p in self.params:
                p.grad = None
            if batch_size:
                loss_per_sample.sum().backward()  # type: ignore[no-untyped-call]
            return self._clip_and_noise(batch_size, expected_batch_size, generator)
        finally:
            self._reset()

    def _clip_and_noise(
        self, batch_size: int, expected_batch_size: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        norms = self.per_sample_norms_squared(batch_size).sqrt()
        clip = (self.max_grad_norm / (norms + CLIP_EPSILON)).clamp(max=1.0)
        summed: dict[int, torch.Tensor] = {}
        for layer in self.layers:
            a, g = layer.record.activation, layer.record.output_grad
            if a is None or g is None:
                continue
            cg = g * clip.to(g.dtype).view(-1, *([1] * (g.dim() - 1)))
            for param, clipped_sum in layer.rule.clipped_sums(layer.module, a, cg):
                summed[id(param)] = clipped_sum
        std = self.noise_multiplier * self.max_grad_norm
        for p in self.params:
            grad = summed.get(id(p), torch.zeros_like(p))
            if std > 0:
                # drawn exactly as Opacus draws it (default dtype, then added), so that
                # the same generator state gives the same noise
                grad = grad + torch.normal(mean=0, std=std, size=p.shape, generator=generator)
            p.grad = grad / expected_batch_size
        return norms


def _linear_weight_norm2(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    if a.dim() == 2:
        return a.pow(2).sum(dim=1) * g.pow(2).sum(dim=1)
    a3 = a.reshape(a.shape[0], -1, a.shape[-1])
    g3 = g.reshape(g.shape[0], -1, g.shape[-1])
    # ghost norm over the sequence: ‖Σ_t g_t a_tᵀ‖² without forming the outer products
    return (torch.bmm(a3, a3.transpose(1, 2)) * torch.bmm(g3, g3.transpose(1, 2))).sum(dim=(1, 2))


def _embedding_norm2(indices: torch.Tensor, g: torch.Tensor, *, disjoint: bool) -> torch.Tensor:
    if indices.dim() == 1:
        return g.pow(2).sum(dim=1)
    idx = indices.reshape(indices.shape[0], -1)
    g3 = g.reshape(g.shape[0], idx.shape[1], -1)
    if disjoint:
        return g3.pow(2).sum(dim=(1, 2))
    ordered = idx.sort(dim=1).values
    if bool((ordered[:, 1:] != ordered[:, :-1]).all()):
        # no row looked up twice by one sample (e.g. one table, per-feature offsets):
        # the per-sample gradient's rows are the g_l themselves
        return g3.pow(2).sum(dim=(1, 2))
    same = (idx.unsqueeze(2) == idx.unsqueeze(1)).to(g.dtype)
    return (same * torch.bmm(g3, g3.transpose(1, 2))).sum(dim=(1, 2))
