"""Membership inference against a submitted model: members = rows of the train split,
non-members = rows of the holdout, which the partner never saw.

Three attacks, each scoring each example so that higher means "more likely a member":

* **loss threshold** (Yeom et al. 2018): the score is minus the model's loss on the
  example's true label — log p(y) for classification, −(y − ŷ)² for regression. It needs
  no reference model and catches a model that is simply more confident on what it saw.
* **class population** (classification only): the same signal with one threshold per
  class (Song and Mittal 2021), calibrated on the target's scores on the reference pool
  (population rows it never saw, Ye et al. 2022). With a rare positive class a single
  threshold misses a model that memorised its positives.
* **offline LiRA** (Carlini et al. 2022, "Membership inference attacks from first
  principles", the offline variant): `reference_models` models of the target's family
  are trained on random halves of a *reference pool* carved out of the holdout. No
  evaluated example — member or non-member — is in the pool, so every reference model
  is OUT for every example it scores. Per example, the logit-scaled confidence
  φ = log(p_y / (1 − p_y)) of the reference models is modelled as a Gaussian
  N(μ_out(x), σ²); the score is how many σ the target's φ lies above μ_out(x), i.e. a
  monotone transform of 1 − Pr[Z > φ_target], the paper's one-sided test. σ is one
  pooled value over all examples ("fixed variance"), as the paper advises below ~64
  reference models; we train 8 by default. For regression φ is −log|y − ŷ|.

  Why offline LiRA and not RMIA (Zarifzadeh et al. 2024, ML Privacy Meter's default):
  RMIA's offline form needs a population sample *and* a mixing constant `a` that
  approximates the unseen IN models, tuned by attacking one reference model with the
  others; with a holdout that must also feed the reference models and the evaluation
  that is a third use of the same rows and one more fitted knob between the data and
  the verdict. Offline LiRA has no tuned parameter, each score has a plain reading (a
  z-score against models that never saw the row), and its validity only needs members
  and non-members to be exchangeable for the reference models — true here because both
  are outside the pool and the train/holdout split is a keyed hash of the entity. RMIA
  is reported stronger than offline LiRA with few reference models; the loss attack and
  the ε audit below do not depend on that choice.

The evaluation sets: the holdout is split at random in two halves, the reference pool
and the evaluated non-members; the evaluated members are a random sample of the train
split of the same size (so the ROC is balanced and a TPR means the same for both).

Metrics (per attack): ROC AUC with the one-sided Mann–Whitney U p-value (H1: members
score higher) and DeLong's standard error, from which the verdict takes a one-sided
confidence bound (Bonferroni over the attacks): an AUC is over its limit when it is shown
to be, not when a few dozen examples happen to give it — measured on the test platform's
bank-credit view (38 members against 38 non-members), one DP logistic model's strongest
AUC ranged 0.41–0.69 over random splits; TPR at 1 %, 0.1 % and 0 % FPR read exactly
off the empirical ROC (no interpolation: the best TPR of any threshold whose FPR does
not exceed the level); the ROC vertices decimated on a log grid of FPR for a log-log
plot. TPR at 0.1 % rests on one false positive in a thousand: with fewer than
`attack_min_non_members` evaluated non-members it is reported but marked not estimable.

What leaves the check runner is aggregates only: the partner chose the model, and a model
can make a holdout row's score any function of the row. The report's score histograms
are counts in fixed bins holding at least 10 rows (`histogram_values`), never scores, and
the ε bound's threshold (one example's score) is not shown.

Empirical ε lower bound (Jagielski et al. 2020; Nasr et al. 2021): an (ε, δ)-DP training
bounds every membership test by TPR ≤ e^ε·FPR + δ and TNR ≤ e^ε·FNR + δ, so for any
threshold t

    ε ≥ log((TPR_lo − δ) / FPR_hi)      and      ε ≥ log((1 − FPR_hi − δ) / (1 − TPR_lo))

with one-sided Clopper–Pearson bounds TPR_lo, FPR_hi, each at 1 − (1 − c)/2 so that both
hold together with confidence c = `attack_confidence`. (The second inequality needs the
*upper* bound on FPR and the *lower* bound on TPR too: TNR is bounded from below and
FNR from above.) Maximising such a bound over many thresholds, two directions and three
attacks would be a multiple comparison that inflates it; instead the members and
non-members are split at random into a selection half and an evaluation half: the
(attack, threshold, direction) with the largest bound on the selection half is chosen,
and the bound is computed once, on the evaluation half, where the choice is
independent of the data. The reported value is that bound, floored at 0. It treats the
examples of one training run as independent trials, as one-run audits do (Steinke,
Nasr and Jagielski 2023 make that rigorous for independently included examples; the
train/holdout split here is a keyed hash, i.e. close to independent inclusion).

Cross-check with libraries of the field (SACRO-ML, ML Privacy Meter), investigated in
December 2026 for this platform; neither is a dependency and there is no `cross_check`:

* `sacroml` 2.0.1 (PyPI): its worst-case attack would run offline on our ONNX-scored
  probabilities (a `Target` with `proba_train`/`proba_test`, no model object needed).
  Its declared dependencies do not fit a CPU-only, offline check runner: `xgboost` 3.2.0
  (131.7 MB wheel) with `nvidia-nccl-cu12` 2.32.3 (351.5 MB, a GPU collective library,
  for a structural attack we would not run), `acro` 1.0.2 which pins `pandas<=2.3.3`
  (the platform's MLflow runs on pandas 3.1: installing it downgrades pandas), plus
  statsmodels, lxml, rdflib, openpyxl, fpdf/pypdf, and an unpinned `torch` requirement.
  An extra cannot express "install without its dependencies". Run once outside the
  platform's environment (sacroml, fpdf and pypdf with --no-deps on PYTHONPATH), its
  worst-case attack (a random forest trained on 80 % of the members' and non-members'
  probabilities, with their membership labels) on the same evaluated rows as ours, two
  1,200-row bank-credit views: DP model (ε = 3) AUC 0.49/0.51 against our 0.51/0.52; a
  model memorising its rows 1.00 against 1.00; the overfit MLP of the red-team tests
  0.65/0.64 against our best 0.60/0.58 — an attacker handed labelled members finds the
  memorised rare positives *and* ranks the non-member positives last, which our
  label-free attacks do only through the ε bound (2.7/3.0 on that model, which fails
  it). SACRO-ML's advice to reject above 0.65 is for that supervised attack; the
  platform's 0.60 applies to ours.
* `privacy-meter` 1.0.1 (PyPI) is the 2022 library, without RMIA. It declares no
  dependencies at all, yet every attack path imports `privacy_meter.model`, which
  imports TensorFlow and torch at module level (TensorFlow: a multi-hundred-MB install
  for an import), and its report step shells out to pdflatex/biber. RMIA lives in the
  GitHub research code (`python main.py --cf config.yaml`), not a package, whose
  requirements pin torch 2.4.1+cu118 with the CUDA 11 libraries, transformers, datasets
  and Jupyter: it would replace the platform's pinned CPU torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from scipy import stats  # type: ignore[import-untyped]  # no stubs in the venv

from shuyu.selfcheck.result import MembershipSummary, RocCurve

Task = Literal["classification", "regression"]
Scorer = Callable[[pl.DataFrame], np.ndarray]
"""A model as the attacks see it: a frame of the view's columns -> one score per row
(the probability of the positive class, or the prediction for regression)."""
ReferenceTrainer = Callable[[pl.DataFrame, int], Scorer]
"""Train one reference model on a frame of the view (features and label) with a seed."""

LOSS_ATTACK = "loss-threshold"
LIRA_ATTACK = "offline-lira"
POPULATION_ATTACK = "class-population"
LOW_FPRS = (0.01, 0.001, 0.0)
ROC_POINTS = 120  # decimated ROC: enough for a smooth log-log curve, small in the report
HISTOGRAM_SAMPLES = 1000
HISTOGRAM_MIN_COUNT = 10  # as the output rules' smallest cell
_PROBABILITY_FLOOR = 1e-12  # a probability of exactly 0 or 1 (float32 saturation)


# ---------------------------------------------------------------- signals


def _true_label_probability(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(predictions, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(labels, dtype=np.float64)
    p_y = np.where(y >= 0.5, p, 1.0 - p)
    clipped: np.ndarray = np.clip(p_y, _PROBABILITY_FLOOR, 1.0 - _PROBABILITY_FLOOR)
    return clipped


def loss_signal(predictions: np.ndarray, labels: np.ndarray, task: Task) -> np.ndarray:
    """Minus the loss of the true label: log p(y) (classification), −(y − ŷ)² (regression)."""
    if task == "classification":
        signal: np.ndarray = np.log(_true_label_probability(predictions, labels))
        return signal
    residual = np.asarray(labels, dtype=np.float64) - np.asarray(predictions, dtype=np.float64)
    squared: np.ndarray = -(residual**2)
    return squared


def lira_signal(predictions: np.ndarray, labels: np.ndarray, task: Task) -> np.ndarray:
    """LiRA's logit-scaled confidence log(p_y / (1 − p_y)); −log|y − ŷ| for regression
    (both roughly Gaussian across models, which is what the test assumes)."""
    if task == "classification":
        p_y = _true_label_probability(predictions, labels)
        logit: np.ndarray = np.log(p_y) - np.log1p(-p_y)
        return logit
    residual = np.abs(
        np.asarray(labels, dtype=np.float64) - np.asarray(predictions, dtype=np.float64)
    )
    floor = 1e-9 * max(1.0, float(np.abs(np.asarray(labels, dtype=np.float64)).mean()))
    log_error: np.ndarray = -np.log(residual + floor)
    return log_error


# ---------------------------------------------------------------- attacks


@dataclass(frozen=True)
class AttackScores:
    """One attack's scores: higher means "more likely a member"."""

    attack: str
    members: np.ndarray
    non_members: np.ndarray


def loss_attack(member_signal: np.ndarray, non_member_signal: np.ndarray) -> AttackScores:
    return AttackScores(
        LOSS_ATTACK,
        np.asarray(member_signal, dtype=np.float64),
        np.asarray(non_member_signal, dtype=np.float64),
    )


def offline_lira(
    target_members: np.ndarray,
    target_non_members: np.ndarray,
    reference_members: np.ndarray,
    reference_non_members: np.ndarray,
) -> AttackScores:
    """Offline LiRA with a fixed (pooled) variance.

    `target_*` are the target model's LiRA signals, shape [n]; `reference_*` the
    reference models' signals on the same examples, shape [R, n], every reference model
    OUT for every example. Score: (φ_target − μ_out) / σ.
    """
    references = np.concatenate(
        [np.atleast_2d(reference_members), np.atleast_2d(reference_non_members)], axis=1
    ).astype(np.float64)
    if references.shape[0] < 2:
        raise ValueError("offline LiRA needs at least two reference models")
    mean = references.mean(axis=0)
    sigma = math.sqrt(max(float(references.var(axis=0, ddof=1).mean()), 1e-12))
    split = np.atleast_2d(reference_members).shape[1]
    target = np.concatenate([target_members, target_non_members]).astype(np.float64)
    z = (target - mean) / sigma
    return AttackScores(LIRA_ATTACK, z[:split], z[split:])


def class_population(
    members: np.ndarray,
    non_members: np.ndarray,
    *,
    member_labels: np.ndarray,
    non_member_labels: np.ndarray,
    pool: np.ndarray,
    pool_labels: np.ndarray,
) -> AttackScores:
    """The loss attack with a threshold per class (Song and Mittal 2021), calibrated on the
    target's own signal on population rows it never saw (Ye et al. 2022, attack P): the
    reference pool. Score: (φ − mean of the class in the pool) / its std.

    A single threshold on p(y) cannot separate a model that memorised its rare positive
    rows: their members' p(y) is high, but lower than the many easy negatives'. Measured on
    an overfit MLP of the red-team tests: AUC 0.58 for the loss attack, 0.61 per class."""
    member_scores = np.asarray(members, dtype=np.float64).copy()
    non_member_scores = np.asarray(non_members, dtype=np.float64).copy()
    for value in np.unique(np.concatenate([member_labels, non_member_labels])):
        reference = pool[pool_labels == value]
        if len(reference) < 2:  # a class the pool lacks: no calibration, raw signal
            continue
        mean, std = float(reference.mean()), max(float(reference.std(ddof=1)), 1e-12)
        member_scores[member_labels == value] = (members[member_labels == value] - mean) / std
        chosen = non_member_labels == value
        non_member_scores[chosen] = (non_members[chosen] - mean) / std
    return AttackScores(POPULATION_ATTACK, member_scores, non_member_scores)


# ---------------------------------------------------------------- ROC and its figures


@dataclass(frozen=True)
class Roc:
    """The empirical ROC of the rule "member if score ≥ t", one vertex per distinct score
    (ties move together), from (0, TPR at FPR 0) up to (1, 1); starts at (0, 0)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray  # +inf first: nobody called a member


def roc(scores: AttackScores) -> Roc:
    members = np.sort(scores.members)
    non_members = np.sort(scores.non_members)
    thresholds = np.unique(np.concatenate([members, non_members]))[::-1]
    tp = len(members) - np.searchsorted(members, thresholds, side="left")
    fp = len(non_members) - np.searchsorted(non_members, thresholds, side="left")
    return Roc(
        fpr=np.concatenate([[0.0], fp / max(1, len(non_members))]),
        tpr=np.concatenate([[0.0], tp / max(1, len(members))]),
        thresholds=np.concatenate([[np.inf], thresholds]),
    )


def tpr_at_fpr(curve: Roc, level: float) -> float:
    """The largest TPR of any threshold whose FPR is at most `level` (0: no false positive)."""
    allowed = curve.fpr <= level + 1e-12
    return float(curve.tpr[allowed].max())


def auc_and_p_value(scores: AttackScores) -> tuple[float, float]:
    """ROC AUC (ties count half) and the one-sided Mann–Whitney U p-value, H1: members
    score higher. Asymptotic with the tie correction (exact is quadratic in n)."""
    if len(scores.members) == 0 or len(scores.non_members) == 0:
        return float("nan"), float("nan")
    result = stats.mannwhitneyu(
        scores.members, scores.non_members, alternative="greater", method="asymptotic"
    )
    auc = float(result.statistic) / (len(scores.members) * len(scores.non_members))
    p_value = float(result.pvalue)
    return auc, (1.0 if math.isnan(p_value) else p_value)  # all scores equal: no evidence


def auc_standard_error(scores: AttackScores) -> float:
    """DeLong et al. (1988): the AUC's standard error from its structural components —
    for each member the share of non-members it outscores, and for each non-member the
    share of members that outscore it (ties count half) — via midranks, O(n log n)."""
    m, n = len(scores.members), len(scores.non_members)
    if m < 2 or n < 2:
        return float("nan")
    combined = stats.rankdata(np.concatenate([scores.members, scores.non_members]))
    member_ranks = stats.rankdata(scores.members)
    non_member_ranks = stats.rankdata(scores.non_members)
    member_components = (combined[:m] - member_ranks) / n
    non_member_components = 1.0 - (combined[m:] - non_member_ranks) / m
    variance = member_components.var(ddof=1) / m + non_member_components.var(ddof=1) / n
    return math.sqrt(max(float(variance), 0.0))


def decimated(curve: Roc, attack: str, points: int = ROC_POINTS) -> RocCurve:
    """ROC vertices on a log grid of FPR (for log-log axes), always keeping the first
    vertex with FPR 0 and the last one (1, 1)."""
    n = len(curve.fpr)
    smallest = float(curve.fpr[curve.fpr > 0].min()) if (curve.fpr > 0).any() else 1.0
    grid = np.geomspace(smallest, 1.0, points)
    # for each grid FPR, the last vertex at or below it: the best TPR at that FPR
    keep = np.searchsorted(curve.fpr, grid, side="right") - 1
    first_zero = int(np.searchsorted(curve.fpr, 0.0, side="right") - 1)
    index = np.unique(np.concatenate([[first_zero, n - 1], keep]))
    return RocCurve(
        attack=attack,
        fpr=[float(v) for v in curve.fpr[index]],
        tpr=[float(v) for v in curve.tpr[index]],
    )


@dataclass(frozen=True)
class AttackMetrics:
    attack: str
    members: int
    non_members: int
    auc: float
    auc_p_value: float
    auc_standard_error: float
    tpr_at_1pct: float
    tpr_at_01pct: float
    tpr_at_0: float
    tpr_at_01pct_estimable: bool
    """False with fewer non-members than the policy's minimum for a 0.1 % FPR."""
    curve: RocCurve
    exact: Roc = field(repr=False)

    def tpr_at(self, level: float) -> float:
        return tpr_at_fpr(self.exact, level)


def evaluate(scores: AttackScores, *, min_non_members: int) -> AttackMetrics:
    curve = roc(scores)
    auc, p_value = auc_and_p_value(scores)
    at_1, at_01, at_0 = (tpr_at_fpr(curve, level) for level in LOW_FPRS)
    return AttackMetrics(
        attack=scores.attack,
        members=len(scores.members),
        non_members=len(scores.non_members),
        auc=auc,
        auc_p_value=p_value,
        auc_standard_error=auc_standard_error(scores),
        tpr_at_1pct=at_1,
        tpr_at_01pct=at_01,
        tpr_at_0=at_0,
        tpr_at_01pct_estimable=len(scores.non_members) >= min_non_members,
        curve=decimated(curve, scores.attack),
        exact=curve,
    )


# ---------------------------------------------------------------- ε lower bound


def clopper_pearson_lower(successes: np.ndarray, trials: int, alpha: float) -> np.ndarray:
    """One-sided lower bound at confidence 1 − alpha of a binomial proportion."""
    k = np.asarray(successes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bound = stats.beta.ppf(alpha, k, trials - k + 1)
    lower: np.ndarray = np.where(k <= 0, 0.0, np.nan_to_num(bound, nan=0.0))
    return lower


def clopper_pearson_upper(successes: np.ndarray, trials: int, alpha: float) -> np.ndarray:
    """One-sided upper bound at confidence 1 − alpha of a binomial proportion."""
    k = np.asarray(successes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bound = stats.beta.ppf(1 - alpha, k + 1, trials - k)
    upper: np.ndarray = np.where(k >= trials, 1.0, np.nan_to_num(bound, nan=1.0))
    return upper


Direction = Literal["tpr/fpr", "tnr/fnr"]


def _epsilon_bounds(
    true_positives: np.ndarray,
    false_positives: np.ndarray,
    members: int,
    non_members: int,
    *,
    delta: float,
    confidence: float,
) -> dict[Direction, np.ndarray]:
    """Both ε bounds for each threshold (log of ≤ 0 is −inf: no evidence)."""
    alpha = (1 - confidence) / 2  # two intervals must hold together: a union bound
    tpr_lo = clopper_pearson_lower(true_positives, members, alpha)
    fpr_hi = clopper_pearson_upper(false_positives, non_members, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr_over_fpr = np.log(np.maximum(tpr_lo - delta, 0.0) / fpr_hi)
        tnr_over_fnr = np.log(np.maximum(1 - fpr_hi - delta, 0.0) / (1 - tpr_lo))
    return {"tpr/fpr": tpr_over_fpr, "tnr/fnr": tnr_over_fnr}


def _counts_at(scores: AttackScores, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    members, non_members = np.sort(scores.members), np.sort(scores.non_members)
    tp = len(members) - np.searchsorted(members, thresholds, side="left")
    fp = len(non_members) - np.searchsorted(non_members, thresholds, side="left")
    return tp, fp


@dataclass(frozen=True)
class EpsilonBound:
    """The empirical ε lower bound and the test behind it (on the evaluation half)."""

    epsilon: float  # ≥ 0; holds with probability ≥ confidence if the training is (ε, δ)-DP
    attack: str
    threshold: float
    direction: Direction | Literal[""]
    tpr: float  # point estimates on the evaluation half, at the chosen threshold
    fpr: float
    members: int  # sizes of the evaluation half
    non_members: int
    delta: float
    confidence: float

    @classmethod
    def none(cls, *, delta: float, confidence: float) -> EpsilonBound:
        return cls(0.0, "", math.inf, "", 0.0, 0.0, 0, 0, delta, confidence)


def epsilon_lower_bound(
    attacks: Sequence[AttackScores], *, delta: float, confidence: float, seed: int = 0
) -> EpsilonBound:
    """The empirical ε lower bound over `attacks` (scores of the same examples, in the
    same order), with the threshold chosen on one random half and the bound computed on
    the other."""
    if not attacks:
        return EpsilonBound.none(delta=delta, confidence=confidence)
    n_members, n_non_members = len(attacks[0].members), len(attacks[0].non_members)
    if any(len(a.members) != n_members or len(a.non_members) != n_non_members for a in attacks):
        raise ValueError("the attacks must score the same members and non-members")
    if n_members < 4 or n_non_members < 4:
        return EpsilonBound.none(delta=delta, confidence=confidence)
    rng = np.random.default_rng(seed)
    member_order, non_member_order = rng.permutation(n_members), rng.permutation(n_non_members)
    select_m, test_m = np.array_split(member_order, 2)
    select_n, test_n = np.array_split(non_member_order, 2)

    best: tuple[float, AttackScores, float, Direction] | None = None
    for scores in attacks:
        selection = AttackScores(
            scores.attack, scores.members[select_m], scores.non_members[select_n]
        )
        thresholds = np.unique(np.concatenate([selection.members, selection.non_members]))
        tp, fp = _counts_at(selection, thresholds)
        bounds = _epsilon_bounds(
            tp, fp, len(select_m), len(select_n), delta=delta, confidence=confidence
        )
        for direction, values in bounds.items():
            i = int(np.argmax(values))
            if best is None or values[i] > best[0]:
                best = (float(values[i]), scores, float(thresholds[i]), direction)
    assert best is not None
    _, scores, threshold, direction = best
    held_out = AttackScores(scores.attack, scores.members[test_m], scores.non_members[test_n])
    tp, fp = _counts_at(held_out, np.array([threshold]))
    bounds = _epsilon_bounds(tp, fp, len(test_m), len(test_n), delta=delta, confidence=confidence)
    value = bounds[direction][0]
    return EpsilonBound(
        epsilon=max(0.0, float(value)) if np.isfinite(value) else 0.0,
        attack=scores.attack,
        threshold=threshold,
        direction=direction,
        tpr=float(tp[0]) / len(test_m),
        fpr=float(fp[0]) / len(test_n),
        members=len(test_m),
        non_members=len(test_n),
        delta=delta,
        confidence=confidence,
    )


# ---------------------------------------------------------------- the audit of one model


@dataclass(frozen=True)
class AttackSplit:
    """Row indices: the holdout's reference pool and evaluated non-members (disjoint
    halves), and the evaluated members (a sample of train of the same size)."""

    reference_pool: np.ndarray
    non_members: np.ndarray
    members: np.ndarray


def split_for_attack(train_rows: int, holdout_rows: int, *, seed: int = 0) -> AttackSplit:
    rng = np.random.default_rng(seed)
    holdout = rng.permutation(holdout_rows)
    pool, non_members = holdout[: holdout_rows // 2], holdout[holdout_rows // 2 :]
    size = min(len(non_members), train_rows)
    non_members = np.sort(non_members[:size])
    members = np.sort(rng.choice(train_rows, size=size, replace=False))
    return AttackSplit(reference_pool=np.sort(pool), non_members=non_members, members=members)


@dataclass(frozen=True)
class MembershipAudit:
    attacks: list[AttackMetrics]
    bound: EpsilonBound
    summary: MembershipSummary
    reference_models: int
    reference_rows: int  # rows each reference model trained on
    seconds: dict[str, float] = field(default_factory=dict)

    def strongest(self) -> AttackMetrics:
        return max(self.attacks, key=lambda a: a.auc)

    def tpr_at(self, level: float) -> float:
        """The best TPR at FPR ≤ level over the attacks."""
        return max(a.tpr_at(level) for a in self.attacks)

    def tpr_lower_at(self, level: float, confidence: float) -> float:
        return tpr_lower_bound(self.attacks, level, confidence)

    def auc_interval(self, confidence: float) -> tuple[float, float]:
        return auc_bounds(self.attacks, confidence)


def auc_bounds(attacks: Sequence[AttackMetrics], confidence: float) -> tuple[float, float]:
    """One-sided confidence bounds of the strongest attack's AUC: (the best lower bound,
    the best upper bound) over `attacks`, each at 1 − (1 − confidence)/k (Bonferroni over
    the k attacks) from DeLong's standard error. The lower one is what an attack is shown
    to reach; the upper one is how strong the strongest might be."""
    z = float(stats.norm.ppf(1 - (1 - confidence) / max(1, len(attacks))))
    lower = upper = -math.inf
    for a in attacks:
        se = a.auc_standard_error if math.isfinite(a.auc_standard_error) else 0.5
        lower, upper = max(lower, a.auc - z * se), max(upper, a.auc + z * se)
    return max(0.0, lower), min(1.0, upper)


def tpr_lower_bound(attacks: Sequence[AttackMetrics], level: float, confidence: float) -> float:
    """The best one-sided lower confidence bound of TPR at FPR ≤ level over `attacks`
    (Clopper–Pearson on the members, Bonferroni over the attacks): what an attack is
    shown to reach, not what a few hundred examples happen to give."""
    alpha = (1 - confidence) / max(1, len(attacks))
    return max(
        float(
            clopper_pearson_lower(np.array([round(a.tpr_at(level) * a.members)]), a.members, alpha)[
                0
            ]
        )
        for a in attacks
    )


def histogram_values(
    values: np.ndarray,
    edges: np.ndarray,
    *,
    samples: int = HISTOGRAM_SAMPLES,
    min_count: int = HISTOGRAM_MIN_COUNT,
) -> list[float]:
    """Stand-ins for `values` that draw the same histogram over `edges`: each bin's centre,
    as often as its share of `samples`; bins with fewer than `min_count` rows are left
    out, values beyond the edges go to the outer bins.

    Never the values themselves: the partner chose the model, and a model can turn any
    function of a holdout row into its score — per-row scores in the report would carry
    the holdout out, a histogram of counts ≥ min_count carries aggregates only."""
    if len(values) == 0:
        return []
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    kept = counts >= min_count
    repeats = np.round(counts * samples / len(values)).astype(int)
    return [float(c) for c, r, k in zip(centres, repeats, kept, strict=True) if k for _ in range(r)]


def histogram_edges(task: Task, members: np.ndarray) -> np.ndarray:
    """Fixed bins of log p(y) for classification (40 bins down to p = e⁻¹⁰); for
    regression bins over the members' (train rows') central 98 %, never the holdout's."""
    if task == "classification":
        return np.linspace(-10.0, 0.0, 41)
    low, high = np.quantile(members, [0.01, 0.99]) if len(members) else (0.0, 1.0)
    return np.linspace(float(low), max(float(high), float(low) + 1e-9), 41)


def summarise(
    attacks: Sequence[AttackMetrics],
    bound: EpsilonBound,
    *,
    member_histogram: list[float],
    non_member_histogram: list[float],
) -> MembershipSummary:
    """The report's summary: for each figure the worst case over the attacks (the p-value
    is the one of the attack with the highest AUC); the histograms are of the loss
    attack's signal, log p(true label), the figure a reviewer reads most easily."""
    strongest = max(attacks, key=lambda a: a.auc)
    return MembershipSummary(
        members=strongest.members,
        non_members=strongest.non_members,
        auc=strongest.auc,
        auc_p_value=strongest.auc_p_value,
        tpr_at_1pct=max(a.tpr_at_1pct for a in attacks),
        tpr_at_01pct=max(a.tpr_at_01pct for a in attacks),
        tpr_at_0=max(a.tpr_at_0 for a in attacks),
        epsilon_lower_bound=bound.epsilon,
        curves=[a.curve for a in attacks],
        member_scores=member_histogram,
        non_member_scores=non_member_histogram,
    )


def audit_membership(
    target: Scorer,
    train: pl.DataFrame,
    holdout: pl.DataFrame,
    *,
    label: str,
    task: Task,
    train_reference: ReferenceTrainer | None,
    reference_models: int,
    delta: float,
    confidence: float,
    min_non_members: int,
    reference_fraction: float = 0.5,
    seed: int = 0,
    progress: Callable[[str], None] = lambda _line: None,
) -> MembershipAudit:
    """Attack `target` with members from `train` and non-members from `holdout`; with
    `train_reference` None only the loss attack runs."""
    import time  # noqa: PLC0415

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    split = split_for_attack(train.height, holdout.height, seed=seed)
    members = train[split.members]
    non_members = holdout[split.non_members]
    y_members = members[label].cast(pl.Float64).to_numpy()
    y_non_members = non_members[label].cast(pl.Float64).to_numpy()
    p_members, p_non_members = target(members), target(non_members)
    seconds["score_target"] = time.perf_counter() - started

    loss = loss_attack(
        loss_signal(p_members, y_members, task), loss_signal(p_non_members, y_non_members, task)
    )
    scores = [loss]
    pool = holdout[split.reference_pool]
    if task == "classification" and pool.height >= 2:
        y_pool = pool[label].cast(pl.Float64).to_numpy()
        scores.append(
            class_population(
                lira_signal(p_members, y_members, task),
                lira_signal(p_non_members, y_non_members, task),
                member_labels=y_members,
                non_member_labels=y_non_members,
                pool=lira_signal(target(pool), y_pool, task),
                pool_labels=y_pool,
            )
        )
    reference_rows = round(reference_fraction * pool.height)
    if train_reference is not None and reference_models >= 2 and reference_rows >= 2:
        started = time.perf_counter()
        rng = np.random.default_rng(seed + 1)
        ref_members = np.empty((reference_models, members.height))
        ref_non_members = np.empty((reference_models, non_members.height))
        for i in range(reference_models):
            progress(f"reference model {i + 1}/{reference_models}")
            rows = np.sort(rng.choice(pool.height, size=reference_rows, replace=False))
            reference = train_reference(pool[rows], seed + 100 + i)
            ref_members[i] = lira_signal(reference(members), y_members, task)
            ref_non_members[i] = lira_signal(reference(non_members), y_non_members, task)
        scores.append(
            offline_lira(
                lira_signal(p_members, y_members, task),
                lira_signal(p_non_members, y_non_members, task),
                ref_members,
                ref_non_members,
            )
        )
        seconds["reference_models"] = time.perf_counter() - started
    else:
        reference_models = reference_rows = 0

    started = time.perf_counter()
    metrics = [evaluate(s, min_non_members=min_non_members) for s in scores]
    bound = epsilon_lower_bound(scores, delta=delta, confidence=confidence, seed=seed + 2)
    edges = histogram_edges(task, loss.members)
    summary = summarise(
        metrics,
        bound,
        member_histogram=histogram_values(loss.members, edges),
        non_member_histogram=histogram_values(loss.non_members, edges),
    )
    seconds["metrics"] = time.perf_counter() - started
    return MembershipAudit(
        attacks=metrics,
        bound=bound,
        summary=summary,
        reference_models=reference_models,
        reference_rows=reference_rows,
        seconds=seconds,
    )
