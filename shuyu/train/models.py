"""The tabular networks partners train on a view: built only from nn.Linear, nn.Embedding
and elementwise activations, so that the book-keeping fast path applies."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from shuyu.train.bookkeeping import DISJOINT_ROWS


class TabularMLP(nn.Module):
    """Embeddings for the categorical codes, concatenated with the numeric features,
    then an MLP to one logit (or one value for regression) per row.

    forward(numeric [B, n_numeric] float, codes [B, n_categorical] int64) -> [B]
    """

    def __init__(
        self,
        n_numeric: int,
        vocabulary_sizes: Sequence[int],
        *,
        hidden: Sequence[int] = (64, 32),
        embedding_dim: int = 4,
    ) -> None:
        super().__init__()
        # one table for every categorical feature, each feature's codes shifted into its
        # own rows: one layer instead of k keeps the per-step overhead of DP low
        offsets = [0]
        for size in vocabulary_sizes[:-1]:
            offsets.append(offsets[-1] + size)
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long))
        self.embedding = (
            nn.Embedding(sum(vocabulary_sizes), embedding_dim) if vocabulary_sizes else None
        )
        if self.embedding is not None:
            # each feature's codes live in their own rows: a sample never repeats a row
            setattr(self.embedding, DISJOINT_ROWS, True)
        layers: list[nn.Module] = []
        width = n_numeric + embedding_dim * len(vocabulary_sizes)
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        x = numeric
        if self.embedding is not None:
            x = torch.cat(
                [numeric, self.embedding(codes + self.get_buffer("offsets")).flatten(1)], dim=1
            )
        return self.mlp(x).squeeze(1)  # type: ignore[no-any-return]
