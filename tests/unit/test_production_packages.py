"""The approved packages a production run gets (`shuyu.production.packages`): exactly the
published wheels of the scenario's set that install a module the notebook imports,
each checked against the sha256 recorded at publication; nothing of another scenario's
set, and nothing for a notebook that imports none of them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

import pytest

from shuyu.errors import ShuyuError
from shuyu.packages.desk import PackageAsk, PackageDesk, WheelRecord
from shuyu.packages.sets import set_folder
from shuyu.policy import load_policies
from shuyu.production.packages import ApprovedWheels, imported_modules, runner_env
from shuyu.review.service import Principal
from shuyu.store.database import Database

POLICIES = load_policies()
PER_SCENARIO = POLICIES.model_copy(
    update={
        "sandbox": POLICIES.sandbox.model_copy(
            update={"packages": POLICIES.sandbox.packages.model_copy(update={"per_scenario": True})}
        )
    }
)
TODAY = dt.date(2026, 11, 23)
BANK = Principal("sz-credit", frozenset({"partners"}))
HEALTH = Principal("hi-underwriter", frozenset({"partners"}))
ADMIN = Principal("admin", frozenset({"admins"}))
WHEEL = b"PK tiny_stats wheel bytes"
DEP = b"PK tiny_dep wheel bytes"


def _notebook(*sources: str) -> bytes:
    cells = [{"cell_type": "code", "source": s, "metadata": {}, "outputs": []} for s in sources]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4}).encode()


class Volume:
    """What the executor reads from the index's volume, and which names were asked."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.asked: list[str] = []

    def read_volume(
        self, volume: str, *, max_bytes: int, names: Sequence[str] = ()
    ) -> dict[str, bytes]:
        self.asked += names
        return {n: self.files[n] for n in names}


def _publish(desk: PackageDesk, who: Principal, scenario: str) -> None:
    asked = desk.request(
        who, PackageAsk(name="tiny-stats", version="1.2.0", scenario=scenario, purpose="基线模型")
    )
    desk.decide(ADMIN, asked.id, approve=True, note="")
    desk.fetched(
        asked.id,
        files=[
            WheelRecord("tiny_stats-1.2.0-py3-none-any.whl", _sha(WHEEL), 25, ("tiny_stats",)),
            WheelRecord("tiny_dep-0.1-py3-none-any.whl", _sha(DEP), 23, ("tiny_dep",)),
        ],
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_modules_a_notebook_imports_are_read_from_its_code_cells() -> None:
    notebook = _notebook(
        "%matplotlib inline\nimport numpy as np, tiny_stats.core\n",
        "from sklearn.linear_model import LogisticRegression\nfrom . import local\n",
        "def f(:\n",  # broken code: nothing from it, and no error here
    )
    assert imported_modules(notebook) == {"numpy", "tiny_stats", "sklearn"}
    assert imported_modules(b"not a notebook") == set()


def test_a_run_that_imports_an_approved_package_gets_its_wheels_checked(
    database: Database,
) -> None:
    desk = PackageDesk(database, lambda: POLICIES, lambda: TODAY)
    _publish(desk, BANK, "bank_credit")
    volume = Volume(
        {"tiny_stats-1.2.0-py3-none-any.whl": WHEEL, "tiny_dep-0.1-py3-none-any.whl": DEP}
    )
    wheels = ApprovedWheels(desk, "shuyu-packages")
    inputs = wheels.inputs(volume, "bank_credit", _notebook("import tiny_stats"), run="R1")  # type: ignore[arg-type]
    assert inputs == {
        "wheels/tiny_stats-1.2.0-py3-none-any.whl": WHEEL,
        "wheels/tiny_dep-0.1-py3-none-any.whl": DEP,  # what it needs comes with it
    }
    assert runner_env(inputs) == {"SHUYU_WHEELS": "/input/wheels", "HOME": "/tmp/shuyu-home"}
    # a notebook that imports none of them gets nothing and reads nothing
    volume.asked.clear()
    assert wheels.inputs(volume, "bank_credit", _notebook("import numpy"), run="R2") == {}  # type: ignore[arg-type]
    assert volume.asked == []
    assert runner_env({}) == {}


def test_a_wheel_changed_in_the_volume_is_not_installed(database: Database) -> None:
    desk = PackageDesk(database, lambda: POLICIES, lambda: TODAY)
    _publish(desk, BANK, "bank_credit")
    volume = Volume(
        {"tiny_stats-1.2.0-py3-none-any.whl": b"PK swapped", "tiny_dep-0.1-py3-none-any.whl": DEP}
    )
    with pytest.raises(ShuyuError, match=r"tiny_stats-1\.2\.0-py3-none-any\.whl .* not installed"):
        ApprovedWheels(desk, "shuyu-packages").inputs(
            volume,  # type: ignore[arg-type]
            "bank_credit",
            _notebook("import tiny_stats"),
            run="R3",
        )


def test_with_sets_per_scenario_a_run_gets_its_own_scenario_s_set_only(
    database: Database,
) -> None:
    desk = PackageDesk(database, lambda: PER_SCENARIO, lambda: TODAY)
    _publish(desk, HEALTH, "health_underwriting")
    at = set_folder(database, "health_underwriting")
    wheels = ApprovedWheels(desk, "shuyu-packages")
    notebook = _notebook("import tiny_stats")
    assert wheels.needed("bank_credit", notebook) == {}
    assert sorted(wheels.needed("health_underwriting", notebook)) == [
        f"{at}/tiny_dep-0.1-py3-none-any.whl",
        f"{at}/tiny_stats-1.2.0-py3-none-any.whl",
    ]
