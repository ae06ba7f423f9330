"""Training a declarative spec (`shuyu.train.spec`) with shuyu's own DP trainer: what
certified training runs in a training runner (`shuyu.train.certified`)."""

from __future__ import annotations

from typing import Any

import torch

from shuyu.errors import InputError
from shuyu.train.models import TabularMLP
from shuyu.train.preprocess import fit_preprocessor
from shuyu.train.private import TrainResult, fit
from shuyu.train.spec import TrainingSpec, spec_sha256
from shuyu.train.view import AuthorisedView


def fit_spec(view: AuthorisedView, spec: TrainingSpec, **options: Any) -> TrainResult:
    """Train `spec` on `view` with DP-SGD; `options` are `fit`'s run-time settings
    (threads, evaluate_each_epoch), never its hyper-parameters."""
    for name in options:
        if name not in {"threads", "evaluate_each_epoch"}:
            raise InputError(
                f"fit_spec({name}=…)",
                "is a hyper-parameter: it belongs in the spec",
                hint="write it in the spec file",
            )
    budget = view.manifest.dp
    for name, asked, allowed in (
        ("epsilon", spec.epsilon, budget.epsilon),
        ("delta", spec.delta, budget.delta),
    ):
        if asked is not None and asked > allowed:
            raise InputError(
                f"{spec.source}: {name}",
                f"exceeds the budget of scenario {view.manifest.scenario} ({name} ≤ {allowed})",
                value=asked,
                hint=f"ask for at most {allowed}, or leave {name} out to use the whole budget",
            )
    features = list(spec.features) if spec.features is not None else None
    preprocessor = fit_preprocessor(view.manifest, view.frame, features=features)
    torch.manual_seed(spec.seed)  # the model's initial weights, as fit draws its default's
    model = TabularMLP(
        len(preprocessor.numeric),
        preprocessor.vocabulary_sizes,
        hidden=spec.hidden,
        embedding_dim=spec.embedding_dim,
    )
    result = fit(
        view,
        model,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        learning_rate=spec.learning_rate,
        max_grad_norm=spec.max_grad_norm,
        epsilon=spec.epsilon,
        delta=spec.delta,
        private=True,
        preprocessor=preprocessor,
        features=features,
        seed=spec.seed,
        **options,
    )
    result.params |= {"model_family": spec.model, "training_spec_sha256": spec_sha256(spec)}
    return result
