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
from collections.abc import Callable, Iterator, Mapping
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

    def norm2(self, module: Any, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor | None:
        """Σ over the layer's trainable parameters of ‖∇_i‖², shape [B] (None: none)."""
        raise NotImplementedError

    def add_clipped_sums(
        self,
        module: Any,
        a: torch.Tensor,
        g: torch.Tensor,
        clip: torch.Tensor,
        grads: Mapping[int, torch.Tensor],
    ) -> None:
        """Add Σ_i c_i ∇_i of each trainable parameter to its gradient (`grads[id(p)]`,
        which holds the noise already)."""
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

    def norm2(self, module: nn.Linear, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor | None:
        weight = module.weight.requires_grad
        bias = module.bias is not None and module.bias.requires_grad
        if a.dim() == 2 and weight:
            # ‖g_i a_iᵀ‖² + ‖g_i‖² = ‖g_i‖² (‖a_i‖² + 1): both parameters in four calls
            a2 = _squared_norms(a)
            return _squared_norms(g) * (a2 + 1 if bias else a2)
        total = _linear_weight_norm2(a, g) if weight else None
        if bias:
            gb = g if g.dim() == 2 else g.sum(dim=tuple(range(1, g.dim() - 1)))
            total = _squared_norms(gb) if total is None else total + _squared_norms(gb)
        return total

    def add_clipped_sums(
        self,
        module: nn.Linear,
        a: torch.Tensor,
        g: torch.Tensor,
        clip: torch.Tensor,
        grads: Mapping[int, torch.Tensor],
    ) -> None:
        weight = module.weight.requires_grad
        bias = module.bias is not None and module.bias.requires_grad
        if g.dim() == 2:
            if weight:
                grads[id(module.weight)].addmm_((g * clip.unsqueeze(1)).T, a)
            if bias:
                grads[id(module.bias)].addmv_(g.T, clip)
            return
        flat_g = (g * clip.view(-1, *([1] * (g.dim() - 1)))).reshape(-1, g.shape[-1])
        if weight:
            grads[id(module.weight)].addmm_(flat_g.T, a.reshape(-1, a.shape[-1]))
        if bias:
            grads[id(module.bias)].add_(flat_g.sum(dim=0))


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

    def norm2(self, module: nn.Embedding, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor | None:
        if not module.weight.requires_grad:
            return None
        return _embedding_norm2(a, g, disjoint=getattr(module, DISJOINT_ROWS, False))

    def add_clipped_sums(
        self,
        module: nn.Embedding,
        a: torch.Tensor,
        g: torch.Tensor,
        clip: torch.Tensor,
        grads: Mapping[int, torch.Tensor],
    ) -> None:
        if module.weight.requires_grad:
            cg = g * clip.view(-1, *([1] * (g.dim() - 1)))
            # index_add_ rather than autograd's embedding_dense_backward, which sorts the
            # indices first: several times slower into a small table on CPU
            grads[id(module.weight)].index_add_(
                0, a.reshape(-1), cg.reshape(-1, module.weight.shape[1])
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
        self.params = [p for p in model.parameters() if p.requires_grad]
        dtypes = {p.dtype for p in self.params}
        if len(dtypes) > 1:
            raise ShuyuError(
                "book-keeping fast path: the parameters have different dtypes "
                f"({', '.join(sorted(map(str, dtypes)))}); train with grad_mode='opacus'"
            )
        self.dtype = dtypes.pop() if dtypes else torch.get_default_dtype()
        self._sizes = [p.numel() for p in self.params]

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
        total: torch.Tensor | None = None
        for layer in self.layers:
            a, g = layer.record.activation, layer.record.output_grad
            if a is None or g is None:
                continue  # the layer got no gradient this step (not on the loss's path)
            norm2 = layer.rule.norm2(layer.module, a, g)
            if norm2 is not None:
                total = norm2 if total is None else total.add_(norm2)
        return torch.zeros(batch_size, dtype=self.dtype) if total is None else total

    def clipped_noised_gradients(
        self,
        loss_per_sample: torch.Tensor,
        *,
        expected_batch_size: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Backward once through `loss_per_sample` ([B]) and set every parameter's
        `.grad` to (Σ_i c_i ∇_i + N(0, (σC)²)) / expected_batch_size, as Opacus's
        DP-SGD defines it. Returns the per-sample gradient norms (before clipping)."""
        batch_size = loss_per_sample.shape[0]
        try:
            for p in self.params:
                p.grad = None
            if batch_size:
                loss_per_sample.sum().backward()  # type: ignore[no-untyped-call]
            return self._clip_and_noise(batch_size, expected_batch_size, generator)
        finally:
            self._reset()

    @torch.no_grad()  # the activations saved by autograd would record a graph otherwise
    def _clip_and_noise(
        self, batch_size: int, expected_batch_size: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        norms = self.per_sample_norms_squared(batch_size).sqrt()
        clip = (self.max_grad_norm / (norms + CLIP_EPSILON)).clamp_(max=1.0)
        # every parameter's noise in one draw, N(0, (σC)²) per coordinate as Opacus's;
        # the gradients are views of it, and the clipped sums are added in place
        std = self.noise_multiplier * self.max_grad_norm
        size = (sum(self._sizes),)
        flat = (
            torch.normal(0.0, std, size=size, generator=generator, dtype=self.dtype)
            if std > 0
            else torch.zeros(size, dtype=self.dtype)
        )
        grads = {
            id(p): part.view(p.shape)
            for p, part in zip(self.params, torch.split(flat, self._sizes), strict=True)
        }
        for layer in self.layers:
            a, g = layer.record.activation, layer.record.output_grad
            if a is not None and g is not None:
                layer.rule.add_clipped_sums(layer.module, a, g, clip.to(g.dtype), grads)
        flat.div_(expected_batch_size)
        for p in self.params:
            p.grad = grads[id(p)]
        return norms


def _squared_norms(x: torch.Tensor) -> torch.Tensor:
    """‖x_i‖² of each row of a [B, d] tensor."""
    norms: torch.Tensor = torch.linalg.vector_norm(x, dim=1)
    return norms.square_()


def _linear_weight_norm2(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    if a.dim() == 2:
        return _squared_norms(a) * _squared_norms(g)
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
