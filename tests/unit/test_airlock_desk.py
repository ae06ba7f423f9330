"""The airlock's desk (`AirlockDesk`), on SQLite and PostgreSQL: a partner's user
uploads for a scenario it is authorised for; the scan's refusal is final and keeps
nothing; only the data provider's reviewer decides, never the uploader; approved code
is placed in the uploader's workspace at once, an approved table waits for the host;
each step is an audit event with the file's sha256."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shuyu.airlock.desk import AirlockDesk
from shuyu.airlock.host import place_tables
from shuyu.airlock.states import ImportState
from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.errors import InputError, ShuyuError
from shuyu.policy import load_policies
from shuyu.review.service import Forbidden, Principal
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database
from tests.unit.test_airlock_scan import RESIDENT_ID, _csv, labels

POLICIES = load_policies()
PARTNER = Principal("sz-credit", frozenset({"partners"}))
PROVIDER = Principal("rv-provider", frozenset({"reviewers", "reviewers_provider"}))
EXPERT = Principal("rv-expert", frozenset({"reviewers", "reviewers_expert"}))
CODE = b"def ratio(a, b):\n    return a / b\n"

Placed = list[tuple[str, str, dict[str, bytes]]]


@pytest.fixture
def placed() -> Placed:
    return []


@pytest.fixture
def desk(database: Database, tmp_path: Path, placed: Placed) -> Iterator[AirlockDesk]:
    audit_events.install_sink(database.url)

    def place(username: str, scenario: str, files: dict[str, bytes]) -> None:
        placed.append((username, scenario, files))

    try:
        yield AirlockDesk(
            database, lambda: POLICIES, tmp_path / "files", place, lambda: dt.date(2026, 11, 23)
        )
    finally:
        audit_events.flush_sink()


def _events(database: Database) -> list[dict[str, object]]:
    audit_events.flush_sink()
    return [e for e in AuditLog(database).events() if str(e["action"]).startswith("airlock.")]


def test_approved_code_is_placed_in_the_uploaders_workspace(
    desk: AirlockDesk, database: Database, placed: Placed, tmp_path: Path
) -> None:
    uploaded = desk.upload(PARTNER, "bank_credit", "../../features.py", CODE, "特征工程函数")
    assert (uploaded.state, uploaded.kind, uploaded.filename) == (
        ImportState.PENDING, "code", "features.py",
    )  # fmt: skip
    assert uploaded.sha256 == hashlib.sha256(CODE).hexdigest()
    done = desk.decide(PROVIDER, uploaded.id, approve=True, note="")
    assert done.state is ImportState.PLACED
    assert done.placed_as == f"/home/jovyan/imports/{uploaded.id}-features.py"
    assert placed == [("sz-credit", "bank_credit", {f"imports/{uploaded.id}-features.py": CODE})]
    assert list((tmp_path / "files").rglob("*.py")) == []  # the service keeps no copy
    events = _events(database)
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("airlock.upload", "allowed"),
        ("airlock.decide", "allowed"),
        ("airlock.place", "allowed"),
    ]
    assert {json.loads(str(e["details"]))["sha256"] for e in events} == {uploaded.sha256}


def test_a_file_with_resident_ids_is_refused_with_the_reason_and_not_kept(
    desk: AirlockDesk, database: Database, tmp_path: Path
) -> None:
    refused = desk.upload(PARTNER, "bank_credit", "lookup.py",
                          f"ids = ['{RESIDENT_ID}']\n".encode(), "查询客户")  # fmt: skip
    assert refused.state is ImportState.REFUSED
    assert "resident_id" in refused.problems[0]
    assert not (tmp_path / "files").exists()
    with pytest.raises(InputError, match="cannot go from refused to approved"):
        desk.decide(PROVIDER, refused.id, approve=True, note="")
    assert next((e["action"], e["outcome"]) for e in _events(database)) == (
        "airlock.upload", "denied",
    )  # fmt: skip


def test_only_the_data_providers_reviewer_decides(desk: AirlockDesk) -> None:
    uploaded = desk.upload(PARTNER, "bank_credit", "features.py", CODE, "特征工程函数")
    for who in (PARTNER, EXPERT):
        with pytest.raises(Forbidden, match="data provider's level"):
            desk.decide(who, uploaded.id, approve=True, note="")
    both = Principal("sz-credit", frozenset({"partners", "reviewers_provider"}))
    with pytest.raises(Forbidden, match="never by who uploaded them"):
        desk.decide(both, uploaded.id, approve=True, note="")


def test_a_rejection_says_why(desk: AirlockDesk, tmp_path: Path) -> None:
    uploaded = desk.upload(PARTNER, "bank_credit", "features.py", CODE, "特征工程函数")
    with pytest.raises(InputError, match="say why"):
        desk.decide(PROVIDER, uploaded.id, approve=False, note="")
    rejected = desk.decide(PROVIDER, uploaded.id, approve=False, note="与授权用途无关")
    assert (rejected.state, rejected.note) == (ImportState.REJECTED, "与授权用途无关")
    assert list((tmp_path / "files").rglob("features.py")) == []


def test_an_approved_table_waits_for_the_host(desk: AirlockDesk, placed: Placed) -> None:
    data = _csv(labels(60))
    uploaded = desk.upload(PARTNER, "bank_credit", "outcomes.csv", data, "本行贷款结果标签")
    approved = desk.decide(PROVIDER, uploaded.id, approve=True, note="")
    assert approved.state is ImportState.APPROVED
    assert placed == []  # the service has no masking key: the host joins it
    assert [i.id for i in desk.to_place()] == [uploaded.id]
    assert desk.content(uploaded.id) == data
    failed = desk.placed(uploaded.id, "", failure="only 3 of its 60 keys are in the view")
    assert (failed.state, failed.note) == (
        ImportState.FAILED,
        "only 3 of its 60 keys are in the view",
    )
    assert desk.to_place() == []


def test_uploads_are_for_a_partners_own_scenarios_and_seen_by_it_and_the_provider(
    desk: AirlockDesk,
) -> None:
    with pytest.raises(InputError, match="not one you are authorised for"):
        desk.upload(PARTNER, "health_underwriting", "f.py", CODE, "特征工程函数")
    with pytest.raises(Forbidden):
        desk.upload(PROVIDER, "bank_credit", "f.py", CODE, "特征工程函数")
    mine = desk.upload(PARTNER, "bank_credit", "f.py", CODE, "特征工程函数")
    other = Principal("hi-underwriter", frozenset({"partners"}))
    assert [i.id for i in desk.visible_to(PARTNER)] == [mine.id]
    assert desk.visible_to(other) == []
    assert [i.id for i in desk.visible_to(PROVIDER)] == [mine.id]


def test_code_whose_placing_failed_stays_approved_for_the_host(
    desk: AirlockDesk, database: Database, placed: Placed, tmp_path: Path
) -> None:
    """The engine down at approval: the decision stands and the host places it later."""

    def engine_down(username: str, scenario: str, files: dict[str, bytes]) -> None:
        raise ShuyuError("the Docker engine does not answer")

    uploaded = desk.upload(PARTNER, "bank_credit", "features.py", CODE, "特征工程函数")
    down = AirlockDesk(desk.db, desk.policies, desk.files, engine_down, desk.today)
    with pytest.raises(ShuyuError):
        down.decide(PROVIDER, uploaded.id, approve=True, note="")
    (waiting,) = desk.to_place()
    assert (waiting.id, waiting.state) == (uploaded.id, ImportState.APPROVED)
    assert desk.content(uploaded.id) == CODE
    (done,) = place_tables(desk, PlatformSettings(), policies=POLICIES, key=b"",
                           place=desk.place, say=lambda _line: None)  # fmt: skip
    assert done.state is ImportState.PLACED
    assert placed == [("sz-credit", "bank_credit", {f"imports/{uploaded.id}-features.py": CODE})]
