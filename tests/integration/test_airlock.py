"""The import airlock on the real platform, end to end but for the browser.

A bank's user uploads its own loan outcomes keyed by real credit codes (taken from the
platform's raw demo data, as a bank's own records would carry them); the data
provider's reviewer approves; the host pseudonymises them with the platform's masking
key, joins them to the bank's view and places the result in the bank's workspace
volume. Inside the bank's real sandbox the joined table is there, and the PII scan of
what the sandbox sees finds nothing: no real code reached it. Approved code lands in
the workspace too; a file with resident IDs is refused with the reason.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator

import polars as pl
import pytest

from shuyu.airlock.desk import AirlockDesk
from shuyu.airlock.host import place_tables
from shuyu.airlock.place import WorkspacePlacer
from shuyu.airlock.states import ImportState
from shuyu.audit import events as audit_events
from shuyu.data.masking.key import read_key
from shuyu.policy import load_policies
from shuyu.review.service import Principal
from shuyu.store.database import Database
from tests.integration.containers import python_in
from tests.integration.platform_fixture import RunningPlatform

pytestmark = pytest.mark.integration

PARTNER = Principal("sz-credit", frozenset({"partners"}))
PROVIDER = Principal("rv-provider", frozenset({"reviewers", "reviewers_provider"}))
RESIDENT_ID = "341302198001011233"

SEEN_IN_SANDBOX = """
import glob, json, os, polars as pl
from shuyu.data.pii import scan_frame
(path,) = glob.glob('/home/jovyan/imports/*.joined.parquet')
table = pl.read_parquet(path)
print(json.dumps({"rows": table.height, "columns": table.columns,
                  "findings": len(scan_frame(table)),
                  "home": os.path.isdir('/home/jovyan/work') and os.access('/home/jovyan', os.W_OK),
                  "code": open(glob.glob('/home/jovyan/imports/*-features.py')[0]).read()}))
"""


@pytest.fixture(scope="module")
def desk(
    platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirlockDesk]:
    audit_events.install_sink(platform.layout.db_url)
    policies = load_policies(platform.policies)
    try:
        yield AirlockDesk(
            Database(platform.layout.db_url),
            lambda: policies,
            tmp_path_factory.mktemp("service-files"),
            WorkspacePlacer(platform.settings),
            lambda: dt.date(2026, 11, 23),
        )
    finally:
        audit_events.flush_sink()


def _outcomes(platform: RunningPlatform) -> bytes:
    raw = pl.read_parquet(platform.layout.data / "raw" / "enterprise_basic.parquet")
    usccs = raw.get_column("uscc").to_list()
    table = pl.DataFrame({"uscc": usccs, "bank_default": [i % 3 == 0 for i in range(len(usccs))]})
    buffer = io.BytesIO()
    table.write_csv(buffer)
    return buffer.getvalue()


def test_labels_with_real_codes_reach_the_sandbox_joined_with_pseudonyms_only(
    platform: RunningPlatform, desk: AirlockDesk
) -> None:
    outcomes = _outcomes(platform)
    table = desk.upload(PARTNER, "bank_credit", "loan_outcomes.csv", outcomes, "本行贷款结果标签")
    code = desk.upload(PARTNER, "bank_credit", "features.py", b"WINDOW = 12\n", "特征窗口")
    assert (table.state, code.state) == (ImportState.PENDING, ImportState.PENDING), table.problems
    assert desk.decide(PROVIDER, code.id, approve=True, note="").state is ImportState.PLACED
    assert desk.decide(PROVIDER, table.id, approve=True, note="").state is ImportState.APPROVED

    (placed,) = place_tables(
        desk,
        platform.settings,
        policies=desk.policies(),
        key=read_key(platform.layout.masking_key),
        place=WorkspacePlacer(platform.settings),
        say=print,
    )
    assert placed.state is ImportState.PLACED, placed.note
    assert placed.placed_as.endswith("-loan_outcomes.joined.parquet")

    with platform.running(PARTNER.username, "bank_credit") as sandbox:
        seen = json.loads(python_in(sandbox, SEEN_IN_SANDBOX).stdout.strip().splitlines()[-1])
    assert seen["rows"] > 0
    assert seen["columns"][0] == "entity_id"
    assert seen["columns"][-1] == "own_bank_default"
    assert seen["findings"] == 0  # not one real code, nor any other identifier
    assert seen["code"] == "WINDOW = 12\n"
    # a workspace the airlock made first is the one the sandbox's first start makes
    assert seen["home"] is True


def test_a_file_with_resident_ids_is_refused_with_the_reason(desk: AirlockDesk) -> None:
    refused = desk.upload(
        PARTNER, "bank_credit", "customers.py", f"VIP = ['{RESIDENT_ID}']\n".encode(), "重点客户"
    )
    assert refused.state is ImportState.REFUSED
    assert "resident_id ×1" in refused.problems[0]


def test_an_oversized_upload_is_refused(desk: AirlockDesk) -> None:
    limit = desk.policies().sandbox.airlock.max_bytes
    refused = desk.upload(
        PARTNER, "bank_credit", "big.csv", b"uscc\n" + b"x" * limit, "一张很大的表"
    )
    assert refused.state is ImportState.REFUSED
    assert "over the airlock's" in refused.problems[0]
