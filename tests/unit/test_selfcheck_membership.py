"""The membership-inference attack library on synthetic scores: no signal reads as no
signal, a strong signal is measured as one, the exact ROC figures are right on a hand
example, and the empirical ε lower bound never claims more than a mechanism's true ε."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from shuyu.selfcheck.indirect_exposure import reference_trainer
from shuyu.selfcheck.membership import (
    AttackScores,
    MembershipAudit,
    Scorer,
    auc_bounds,
    auc_standard_error,
    audit_membership,
    class_population,
    clopper_pearson_lower,
    clopper_pearson_upper,
    decimated,
    epsilon_lower_bound,
    evaluate,
    histogram_edges,
    histogram_values,
    lira_signal,
    loss_signal,
    offline_lira,
    roc,
    split_for_attack,
    tpr_at_fpr,
    tpr_lower_bound,
)
from shuyu.train.private import fit, predict
from shuyu.train.view import AuthorisedView, load_view
from tests.unit.bank_credit_view import write_bank_credit_view


def scores(
    members: list[float] | np.ndarray, non_members: list[float] | np.ndarray
) -> AttackScores:
    return AttackScores("test", np.asarray(members, float), np.asarray(non_members, float))


def test_identical_distributions_show_no_membership_signal() -> None:
    rng = np.random.default_rng(0)
    same = scores(rng.normal(0, 1, 4000), rng.normal(0, 1, 4000))
    metrics = evaluate(same, min_non_members=1000)
    assert metrics.auc == pytest.approx(0.5, abs=0.02)
    assert metrics.auc_p_value > 0.05
    assert metrics.tpr_at_1pct < 0.03
    assert epsilon_lower_bound([same], delta=1e-5, confidence=0.95).epsilon < 0.2


def test_well_separated_scores_are_a_strong_attack() -> None:
    rng = np.random.default_rng(1)
    apart = scores(rng.normal(3, 1, 2000), rng.normal(0, 1, 2000))
    metrics = evaluate(apart, min_non_members=1000)
    assert metrics.auc > 0.95
    assert metrics.auc_p_value < 1e-100
    assert metrics.tpr_at_1pct > 0.5
    bound = epsilon_lower_bound([apart], delta=1e-5, confidence=0.95)
    assert bound.epsilon > 1
    assert bound.members == bound.non_members == 1000  # measured on the held-out half


def test_tpr_at_low_fpr_is_read_exactly_off_the_roc() -> None:
    # members above the best non-member (3.5): 5 and 4; the tie at 3.5 is no clean hit
    hand = scores([5, 4, 3.5, 3, 1], [3.5, 2, 0, -1])
    curve = roc(hand)
    assert tpr_at_fpr(curve, 0.0) == pytest.approx(2 / 5)
    assert tpr_at_fpr(curve, 0.25) == pytest.approx(4 / 5)  # one false positive: 3.5 and 3 in
    assert tpr_at_fpr(curve, 0.5) == 1.0  # threshold 1: every member, and 3.5 and 2
    assert tpr_at_fpr(curve, 0.3) == pytest.approx(4 / 5)  # 2 is not affordable at 30 %
    metrics = evaluate(hand, min_non_members=1000)
    assert metrics.tpr_at_0 == pytest.approx(2 / 5)
    assert not metrics.tpr_at_01pct_estimable  # 4 non-members cannot resolve 0.1 %
    # AUC by hand: pairs (member > non-member) + half the ties, over 5 × 4
    wins = sum((m > n) + 0.5 * (m == n) for m in hand.members for n in hand.non_members)
    assert metrics.auc == pytest.approx(wins / 20)


def test_decimated_roc_keeps_the_zero_fpr_point_and_the_corner() -> None:
    rng = np.random.default_rng(2)
    metrics = evaluate(scores(rng.normal(1, 1, 5000), rng.normal(0, 1, 5000)), min_non_members=1000)
    curve = metrics.curve
    assert len(curve.fpr) <= 125
    assert curve.fpr[0] == 0.0
    assert curve.tpr[0] == pytest.approx(metrics.tpr_at_0)
    assert (curve.fpr[-1], curve.tpr[-1]) == (1.0, 1.0)
    assert curve.fpr == sorted(curve.fpr)
    assert curve.tpr == sorted(curve.tpr)
    # every kept point is an exact vertex of the ROC
    exact = roc(scores(rng.normal(1, 1, 10), rng.normal(0, 1, 10)))
    small = decimated(exact, "test")
    assert set(zip(small.fpr, small.tpr, strict=True)) <= set(
        zip(exact.fpr.tolist(), exact.tpr.tolist(), strict=True)
    )


def randomised_response(epsilon: float, n: int, seed: int) -> AttackScores:
    """Each example reports its membership bit truthfully with probability e^ε/(1 + e^ε):
    exactly ε-DP, and the best attack's TPR/FPR is exactly e^ε."""
    rng = np.random.default_rng(seed)
    truthful = math.exp(epsilon) / (1 + math.exp(epsilon))
    return scores(
        (rng.random(n) < truthful).astype(float), (rng.random(n) >= truthful).astype(float)
    )


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 2.0, 4.0])
def test_epsilon_lower_bound_does_not_exceed_a_known_epsilon(epsilon: float) -> None:
    runs = 40
    bounds = [
        epsilon_lower_bound(
            [randomised_response(epsilon, 4000, seed)], delta=0.0, confidence=0.95, seed=seed
        ).epsilon
        for seed in range(runs)
    ]
    # a 95 % bound may exceed the truth in at most ~5 % of runs (here 2 of 40 expected
    # at worst: Clopper–Pearson and the union bound are conservative)
    assert sum(b > epsilon for b in bounds) <= 4
    # and it is not vacuous: with 2000 examples per side it gets most of the way
    assert np.median(bounds) > 0.7 * epsilon
    strict = [
        epsilon_lower_bound(
            [randomised_response(epsilon, 4000, seed)], delta=0.0, confidence=0.999, seed=seed
        ).epsilon
        for seed in range(runs)
    ]
    assert max(strict) <= epsilon


def test_the_threshold_is_chosen_on_one_half_and_tested_on_the_other() -> None:
    # pure noise with many distinct thresholds: choosing the best one on the same data
    # would report a positive ε most of the time; held out, it is (almost) never positive
    positives = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        noise = scores(rng.normal(0, 1, 600), rng.normal(0, 1, 600))
        positives += (
            epsilon_lower_bound([noise, noise], delta=0.0, confidence=0.95, seed=seed).epsilon > 0
        )
    assert positives <= 2


def test_clopper_pearson_bounds_bracket_the_estimate() -> None:
    k = np.array([0, 5, 50, 100])
    lower = clopper_pearson_lower(k, 100, 0.025)
    upper = clopper_pearson_upper(k, 100, 0.025)
    assert lower[0] == 0.0
    assert upper[-1] == 1.0
    assert np.all(lower <= k / 100)
    assert np.all(k / 100 <= upper)
    assert upper[0] == pytest.approx(1 - 0.025 ** (1 / 100))  # the k = 0 closed form


def test_signals_are_minus_the_loss_of_the_true_label() -> None:
    p = np.array([0.9, 0.9, 0.5, 1.0])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    assert loss_signal(p, y, "classification")[:3] == pytest.approx(np.log([0.9, 0.1, 0.5]))
    assert np.isfinite(loss_signal(p, y, "classification")).all()  # p = 1 saturates, finitely
    assert lira_signal(p, y, "classification")[:3] == pytest.approx(
        [math.log(9), -math.log(9), 0.0]
    )
    assert loss_signal(np.array([2.0, 5.0]), np.array([3.0, 5.0]), "regression") == pytest.approx(
        [-1.0, 0.0]
    )
    error = lira_signal(np.array([2.0, 4.0]), np.array([3.0, 3.5]), "regression")
    assert error[1] > error[0]  # the smaller error looks more like a member


def test_offline_lira_scores_against_models_that_never_saw_the_row() -> None:
    rng = np.random.default_rng(3)
    n, references = 500, 8
    difficulty = rng.normal(0, 2, 2 * n)  # some rows are simply easy: every model is sure
    out = difficulty + rng.normal(0, 0.5, (references, 2 * n))
    target = difficulty + rng.normal(0, 0.5, 2 * n)
    target[:n] += 1.0  # the target is a bit more confident on its members
    lira = offline_lira(target[:n], target[n:], out[:, :n], out[:, n:])
    loss = scores(target[:n], target[n:])
    # calibrating away the per-row difficulty is what makes LiRA stronger
    assert evaluate(lira, min_non_members=100).auc > evaluate(loss, min_non_members=100).auc + 0.1
    with pytest.raises(ValueError, match="two reference models"):
        offline_lira(target[:n], target[n:], out[:1, :n], out[:1, n:])


def test_a_threshold_per_class_finds_memorised_rare_positives() -> None:
    # positives are rare and hard: their members are more confident than their
    # non-members, yet less than the easy negatives, which hide them from one threshold
    rng = np.random.default_rng(6)
    n = 2000
    labels = (rng.random(2 * n) < 0.1).astype(float)
    signal = np.where(labels > 0, -2.0, 3.0) + rng.normal(0, 1, 2 * n)
    signal[:n] += np.where(labels[:n] > 0, 3.0, 0.0)  # members: memorised positives
    pool_labels = (rng.random(n) < 0.1).astype(float)
    pool = np.where(pool_labels > 0, -2.0, 3.0) + rng.normal(0, 1, n)
    per_class = class_population(
        signal[:n],
        signal[n:],
        member_labels=labels[:n],
        non_member_labels=labels[n:],
        pool=pool,
        pool_labels=pool_labels,
    )
    one_threshold = scores(signal[:n], signal[n:])
    assert per_class.attack == "class-population"
    assert (
        evaluate(per_class, min_non_members=100).tpr_at_1pct
        > evaluate(one_threshold, min_non_members=100).tpr_at_1pct + 0.05
    )


def test_the_report_histogram_carries_counts_not_scores() -> None:
    # a partner's model can make a holdout row's score any function of the row: the
    # report gets bin centres of bins holding at least 10 rows, never a score
    rng = np.random.default_rng(8)
    values = np.concatenate([rng.normal(-1, 0.3, 5000), [-7.77]])  # one telltale outlier
    edges = histogram_edges("classification", values)
    shown = histogram_values(values, edges)
    centres = set(((edges[:-1] + edges[1:]) / 2).tolist())
    assert set(shown) <= centres
    assert not set(shown) & set(values.tolist())
    assert min(shown) > -3  # the lone outlier's bin (1 row) is left out
    assert abs(len(shown) - 1000) <= 40  # about HISTOGRAM_SAMPLES stand-ins
    assert np.mean(shown) == pytest.approx(-1, abs=0.05)  # and they draw the same picture
    assert histogram_values(np.array([]), edges) == []


def test_the_attack_split_keeps_reference_rows_out_of_the_evaluation() -> None:
    split = split_for_attack(train_rows=5000, holdout_rows=1201, seed=4)
    assert not set(split.reference_pool) & set(split.non_members)
    assert len(split.reference_pool) + len(split.non_members) == 1201
    assert len(split.members) == len(split.non_members) == 601
    assert len(set(split.members)) == 601
    small_train = split_for_attack(train_rows=100, holdout_rows=1000, seed=4)
    assert len(small_train.members) == len(small_train.non_members) == 100


# ---------------------------------------------------------------- on real (tiny) models


@pytest.fixture(scope="module")
def small_view(tmp_path_factory: pytest.TempPathFactory) -> AuthorisedView:
    directory = tmp_path_factory.mktemp("views") / "bank_credit"
    write_bank_credit_view(directory, train_rows=1000, holdout_rows=2000, seed=5)
    return load_view(directory)


def audit(view: AuthorisedView, target: Scorer, references: int = 4) -> MembershipAudit:
    holdout = pl.read_parquet(view.directory / "holdout.parquet")
    return audit_membership(
        target,
        view.frame,
        holdout,
        label=view.manifest.label.name,
        task=view.manifest.label.task,
        train_reference=reference_trainer(view.manifest, view.directory),
        reference_models=references,
        delta=1e-5,
        confidence=0.95,
        min_non_members=1000,
        seed=7,
    )


def test_a_model_that_returns_the_training_label_for_seen_rows_is_caught(
    small_view: AuthorisedView,
) -> None:
    label = small_view.manifest.label.name
    seen = dict(
        zip(small_view.frame["entity_id"].to_list(), small_view.frame[label].to_list(), strict=True)
    )

    def lookup(frame: pl.DataFrame) -> np.ndarray:
        remembered = [seen.get(e) for e in frame["entity_id"].to_list()]
        return np.array([0.1 if r is None else (1 - 1e-6 if r else 1e-6) for r in remembered])

    result = audit(small_view, lookup)
    assert [a.attack for a in result.attacks] == [
        "loss-threshold",
        "class-population",
        "offline-lira",
    ]
    assert result.summary.auc > 0.95
    assert result.summary.tpr_at_0 > 0.9
    assert result.summary.auc_p_value < 1e-50
    assert result.bound.epsilon > 3
    assert result.reference_models == 4
    assert result.reference_rows == 500  # half of the 1000-row reference pool


def test_a_dp_model_from_shuyu_train_is_not_caught(small_view: AuthorisedView) -> None:
    trained = fit(small_view, epochs=3, batch_size=128, seed=0, evaluate_each_epoch=False)
    assert trained.privacy is not None
    result = audit(small_view, lambda frame: predict(trained, frame))
    assert result.summary.auc < 0.56
    assert result.summary.auc_p_value > 0.001
    assert result.summary.tpr_at_1pct < 0.05
    assert result.bound.epsilon <= trained.privacy.epsilon
    # the report's histograms: ~1000 stand-ins each, bins under 10 rows left out
    assert 900 <= len(result.summary.member_scores) <= 1010
    assert 900 <= len(result.summary.non_member_scores) <= 1010


@pytest.mark.parametrize(
    ("members", "hits", "fails"),
    [
        (140, 9, False),  # 6.4 % of a small demo view: within chance of a 5 % limit
        (5000, 600, True),  # 12 % of many: shown to exceed it
    ],
)
def test_tpr_over_the_limit_must_be_shown_not_just_seen(
    members: int, hits: int, fails: bool
) -> None:
    """`hits` members score above every non-member: TPR at 1 % FPR is hits / members."""
    rng = np.random.default_rng(5)
    non_members = rng.uniform(0, 1, 2000)
    scores = np.concatenate([rng.uniform(2, 3, hits), rng.uniform(0, 1, members - hits)])
    attack = evaluate(AttackScores("loss", scores, non_members), min_non_members=1000)
    assert attack.tpr_at(0.01) >= hits / members
    lower = tpr_lower_bound([attack], 0.01, 0.95)
    assert lower < attack.tpr_at(0.01)
    assert (lower > 0.05) is fails


def test_delong_standard_error_agrees_with_its_definition() -> None:
    """The structural components counted pair by pair, ties at one half, as DeLong et
    al. define them; the midrank computation must give the same figure."""
    rng = np.random.default_rng(8)
    members = np.round(rng.normal(0.4, 1, 60), 1)  # rounded: ties inside and across
    non_members = np.round(rng.normal(0, 1, 45), 1)
    pairs = (members[:, None] > non_members[None, :]) + 0.5 * (
        members[:, None] == non_members[None, :]
    )
    variance = pairs.mean(axis=1).var(ddof=1) / 60 + pairs.mean(axis=0).var(ddof=1) / 45
    found = auc_standard_error(scores(members, non_members))
    assert found == pytest.approx(math.sqrt(variance), rel=1e-12)


def test_delong_standard_error_covers_the_spread_over_repeated_samples() -> None:
    rng = np.random.default_rng(9)
    aucs, errors = [], []
    for _ in range(400):
        drawn = scores(rng.normal(0.3, 1, 40), rng.normal(0, 1, 40))
        metrics = evaluate(drawn, min_non_members=1000)
        aucs.append(metrics.auc)
        errors.append(metrics.auc_standard_error)
    assert float(np.mean(errors)) == pytest.approx(float(np.std(aucs)), rel=0.15)


@pytest.mark.parametrize(
    ("size", "shift", "fails"),
    [
        (38, 0.0, False),  # the test platform's view: a sound model's AUC is chance-wide
        (38, 3.0, True),  # a memorising model is shown over the limit by 38 examples
        (1200, 0.5, True),  # AUC 0.64 on many examples: shown over 0.60
    ],
)
def test_an_auc_over_the_limit_must_be_shown_not_just_seen(
    size: int, shift: float, fails: bool
) -> None:
    rng = np.random.default_rng(10)
    found = []
    for _ in range(200):
        attacks = [
            evaluate(scores(rng.normal(shift, 1, size), rng.normal(0, 1, size)), min_non_members=1)
            for _ in range(3)
        ]
        lower, upper = auc_bounds(attacks, 0.95)
        assert lower <= max(a.auc for a in attacks) <= upper
        found.append(lower > 0.60)
    # a sound model fails fewer than 5 % of draws; an exposed one nearly always fails
    assert (np.mean(found) > 0.9) if fails else (np.mean(found) < 0.05)
