"""Policies: catalogue, partners, scenarios, self-check thresholds, review chain."""

from shuyu.policy.load import default_policies_dir, load_policies
from shuyu.policy.models import Dataset, FieldSpec, Policies, Scenario

__all__ = ["Dataset", "FieldSpec", "Policies", "Scenario", "default_policies_dir", "load_policies"]
