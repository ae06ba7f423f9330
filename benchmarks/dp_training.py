"""DP training time per epoch against non-private training of the same MLP, same run.

On the bank_credit view built by the real pipeline (generate → mask → views) at a scale
giving ~100k training rows (BENCH_SCALE enterprises). Three trainings of the same
TabularMLP, same Poisson batches (512 expected), same SGD: non-private, shuyu DP (the
book-keeping fast path) and Opacus ghost clipping. Time per epoch is the median of 7
epochs after one warm-up epoch; AUC on the holdout split.

The non-private and the DP training run ROUNDS times, interleaved, and the best round of
each is compared (as timeit does, and as the masking benchmark): on a shared machine a
burst of load during one training would otherwise decide the ratio.
Last line: ratio=X.XX (shuyu DP / non-private).
"""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch
from opacus.grad_sample import GradSampleModuleFastGradientClipping
from opacus.optimizers import DPOptimizerFastGradientClipping
from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping

from shuyu.data.pipeline import build_demo_views
from shuyu.policy import load_policies
from shuyu.train.accounting import calibrate_noise
from shuyu.train.metrics import roc_auc
from shuyu.train.models import TabularMLP
from shuyu.train.preprocess import encode, fit_preprocessor, label_values
from shuyu.train.private import TrainResult, fit, predict
from shuyu.train.view import AuthorisedView, load_view

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
EPOCHS = 8  # 1 warm-up + 7 timed: the median of 7 steadies a sub-second figure
SCALE = int(os.environ.get("BENCH_SCALE", "125000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def ghost_clipping(view: AuthorisedView, lr: float) -> tuple[list[float], float]:
    """Opacus ghost clipping on the same model, batches and noise level as shuyu DP."""
    pre = fit_preprocessor(view.manifest, view.frame)
    enc = encode(pre, view.frame)
    x, c = torch.from_numpy(enc.numeric), torch.from_numpy(enc.codes)
    y = torch.from_numpy(label_values(view.manifest.label, view.frame, "classification"))
    n = len(y)
    q = 512 / n
    steps = int(1 / q)
    sigma = calibrate_noise(view.manifest.dp.epsilon, view.manifest.dp.delta, q, EPOCHS * steps)
    torch.manual_seed(0)
    model = TabularMLP(len(pre.numeric), pre.vocabulary_sizes)
    gsm = GradSampleModuleFastGradientClipping(model, max_grad_norm=1.0, use_ghost_clipping=True)
    opt = DPOptimizerFastGradientClipping(
        torch.optim.SGD(gsm.parameters(), lr=lr),
        noise_multiplier=sigma,
        max_grad_norm=1.0,
        expected_batch_size=512,
    )
    crit = DPLossFastGradientClipping(gsm, opt, torch.nn.BCEWithLogitsLoss(), "mean")
    gen = torch.Generator().manual_seed(0)
    seconds = []
    for _ in range(EPOCHS):
        t = time.perf_counter()
        for _ in range(steps):
            idx = (torch.rand(n, generator=gen) < q).nonzero().squeeze(1)
            opt.zero_grad()
            crit(gsm(x[idx], c[idx]), y[idx]).backward()
            opt.step()
        seconds.append(time.perf_counter() - t)
    model.eval()
    trained = TrainResult(model, pre, view, dp=True, privacy=None, grad_mode="ghost", params={})
    return seconds, _auc(trained, view)


def _auc(result: TrainResult, view: AuthorisedView) -> float:
    holdout = pl.read_parquet(view.directory / "holdout.parquet")
    return roc_auc(holdout[view.manifest.label.name].to_numpy(), predict(result, holdout))


def main() -> None:
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory(prefix="shuyu-bench-dp.") as tmp:
        started = time.perf_counter()
        views = build_demo_views(
            Path(tmp),
            load_policies(),
            key=secrets.token_bytes(32),
            scale=SCALE,
            seed=11,
            scenario="bank_credit",
        )
        view = load_view(views / "bank_credit")
        source = f"pipeline view (scale {SCALE}, built in {time.perf_counter() - started:.0f}s)"
        run(view, source)


def run(view: AuthorisedView, source: str) -> None:
    lr = 0.5
    print(
        f"{source}: {view.frame.height} train rows, {len(view.manifest.features)} features; "
        f"torch threads={torch.get_num_threads()} of {os.cpu_count()} cores; batch 512, lr {lr}"
    )
    methods = (("non-private", False), ("shuyu DP (book-keeping)", True))
    seconds: dict[str, list[float]] = {name: [] for name, _ in methods}
    results: dict[str, TrainResult] = {}
    for _ in range(ROUNDS):
        for name, private in methods:
            r = fit(
                view,
                private=private,
                epochs=EPOCHS,
                batch_size=512,
                learning_rate=lr,
                threads=THREADS,
                evaluate_each_epoch=False,
            )
            seconds[name].append(statistics.median([h.seconds for h in r.history[1:]]))
            results[name] = r  # the same seed every round: the same model
    print(
        "per round, s/epoch: "
        + "; ".join(f"{name} {' '.join(f'{s:.3f}' for s in seconds[name])}" for name, _ in methods)
    )
    rows = []
    for name, _ in methods:
        r = results[name]
        eps = f"{r.privacy.epsilon:.2f}" if r.privacy else "-"
        rows.append((name, min(seconds[name]), _auc(r, view), eps))
    ghost_seconds, ghost_auc = ghost_clipping(view, lr)
    rows.append(
        ("Opacus ghost clipping", statistics.median(ghost_seconds[1:]), ghost_auc, "(same σ)")
    )
    base_t, base_auc = rows[0][1], rows[0][2]
    print(f"{'method':<26}{'s/epoch':>9}{'x base':>8}{'AUC':>8}{'gap':>8}{'ε':>9}")
    for name, sec, auc, eps in rows:
        print(f"{name:<26}{sec:>9.3f}{sec / base_t:>8.2f}{auc:>8.4f}{base_auc - auc:>8.4f}{eps:>9}")
    print(f"ratio={rows[1][1] / base_t:.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
