"""The names of MLflow experiments, in one place.

Partners log to `shuyu/<scenario>/<partner>`; the registry gate keeps the immutable
copies of registered models in `shuyu/registry`, where no partner holds any grant.
"""

from __future__ import annotations

PREFIX = "shuyu"
REGISTRY_EXPERIMENT = f"{PREFIX}/registry"


def experiment_name(scenario_id: str, partner_id: str) -> str:
    return f"{PREFIX}/{scenario_id}/{partner_id}"


def partner_experiments_like(partner_id: str) -> str:
    """An SQL LIKE pattern for every scenario experiment of one partner."""
    return f"{PREFIX}/%/{partner_id}"


def parse_experiment_name(name: str) -> tuple[str, str] | None:
    """(scenario, partner) of a partner experiment's name, or None."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == PREFIX and name != REGISTRY_EXPERIMENT:
        return parts[1], parts[2]
    return None
