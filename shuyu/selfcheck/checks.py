"""Every registered check, imported once: importing this module registers them all, in
the order of the four risk factors."""

from __future__ import annotations

from shuyu.selfcheck import direct_exposure, indirect_exposure, other_risks, scope

MODULES = (scope, direct_exposure, indirect_exposure, other_risks)
