"""The privacy budget: what a run may ask for, the noise that buys it, what it spent.

Noise is calibrated and spending is measured by Opacus's accountants only (PRV, with
RDP as an independent cross-check), for the Poisson-subsampled Gaussian mechanism with
the run's exact sample rate, noise multiplier and number of steps; the fast path changes
how gradients are computed, never how privacy is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from opacus.accountants import PRVAccountant, RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

from shuyu.errors import ShuyuError
from shuyu.policy.models import DPBudget

ACCOUNTANT = "prv"
CROSS_CHECK = "rdp"
# Opacus's orders stop at 63; at the noise levels a tight ε needs, the best order lies
# beyond, and the cross-check would report a needlessly loose bound
RDP_ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [80, 96, 128, 192, 256]


@dataclass(frozen=True)
class PrivacySpent:
    epsilon: float  # PRV upper bound: the figure that must stay within the budget
    epsilon_rdp: float  # RDP's (looser) bound, reported beside it as a cross-check
    delta: float
    noise_multiplier: float
    sample_rate: float
    steps: int
    accountant: str = ACCOUNTANT
    cross_check: str = CROSS_CHECK


def resolve_budget(
    budget: DPBudget, scenario: str, epsilon: float | None, delta: float | None
) -> tuple[float, float]:
    """The (ε, δ) this run targets: the scenario's budget unless a smaller one is asked."""
    epsilon = budget.epsilon if epsilon is None else epsilon
    delta = budget.delta if delta is None else delta
    if not 0 < epsilon <= budget.epsilon:
        raise ShuyuError(
            f"场景 {scenario} 的隐私预算为 ε≤{budget.epsilon}，不能使用 ε={epsilon} / "
            f"scenario {scenario} allows ε ≤ {budget.epsilon}, asked for ε={epsilon}: "
            "ask for less (or train with more noise, fewer epochs or a smaller batch)"
        )
    if not 0 < delta <= budget.delta:
        raise ShuyuError(
            f"场景 {scenario} 的隐私预算为 δ≤{budget.delta}，不能使用 δ={delta} / "
            f"scenario {scenario} allows δ ≤ {budget.delta}, asked for δ={delta}: ask for less"
        )
    return epsilon, delta


def calibrate_noise(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """The smallest noise multiplier (to Opacus's tolerance) whose PRV ε stays ≤ `epsilon`."""
    try:
        return float(
            get_noise_multiplier(
                target_epsilon=epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant=ACCOUNTANT,
            )
        )
    except ValueError as exc:
        raise ShuyuError(
            f"no noise level reaches ε={epsilon}, δ={delta} with sample rate {sample_rate:.4g} "
            f"over {steps} steps ({exc}): train fewer epochs or with a smaller batch"
        ) from None


def privacy_spent(
    noise_multiplier: float, sample_rate: float, steps: int, delta: float
) -> PrivacySpent:
    history = [(noise_multiplier, sample_rate, steps)] if steps else []
    prv, rdp = PRVAccountant(), RDPAccountant()
    prv.history, rdp.history = list(history), list(history)
    spent_prv = prv.get_epsilon(delta=delta) if steps else 0.0
    spent_rdp = rdp.get_epsilon(delta=delta, alphas=RDP_ALPHAS) if steps else 0.0
    return PrivacySpent(
        epsilon=float(spent_prv),
        epsilon_rdp=float(spent_rdp),
        delta=delta,
        noise_multiplier=noise_multiplier,
        sample_rate=sample_rate,
        steps=steps,
    )
