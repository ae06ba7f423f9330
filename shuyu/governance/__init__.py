"""Governance the plans put on the operator: filing records (登记备案) that go stale when
what was filed changes, and incident freezes (应急处置)."""
