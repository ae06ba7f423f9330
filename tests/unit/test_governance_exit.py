"""Exit (退出) with its deletion certificate, as the bureau would check it: a consumer's
keys and agreements end and are certified, the exit only moves forward, only another
administrator accepts the certificate — never a tampered one — and one not accepted in
30 days alarms. A partner's exit, which needs MLflow, runs against the real server in
`tests/integration/test_exit_mlflow_store.py`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.errors import InputError
from shuyu.governance.exit import ExitDesk
from shuyu.governance.exit_certificate import ItemKind, sha256_text
from shuyu.governance.exit_states import ExitState, ExitTransitionRefused, check_transition
from shuyu.governance.exit_store import CertificateTampered
from shuyu.governance.exit_tables import ExitRow
from shuyu.products.accounts import AgreementSpec, ConsumerSpec
from shuyu.review.service import Forbidden
from shuyu.review.tables import NoticeRow
from shuyu.store.database import Database
from tests.unit.exit_world import (
    ADMIN,
    OPERATOR,
    OTHER_ADMIN,
    exit_desk,
)


def _logged(db: Database, prefix: str) -> list[dict[str, object]]:
    audit_events.flush_sink()
    found = [
        {**e, "details": json.loads(e["details"])}
        for e in AuditLog(db).events()
        if str(e["action"]).startswith(prefix)
    ]
    audit_events.install_sink(db.url)
    return found


# ---------------------------------------------------------------- the state machine


def test_an_exit_moves_only_forward_and_its_runner_cannot_accept_it() -> None:
    with pytest.raises(ExitTransitionRefused, match="cannot become accepted"):
        check_transition(ExitState.DELETED, ExitState.ACCEPTED)
    with pytest.raises(ExitTransitionRefused, match="may not also accept"):
        check_transition(ExitState.VERIFIED, ExitState.ACCEPTED, actor="admin", exited_by="admin")
    with pytest.raises(ExitTransitionRefused, match="final"):
        check_transition(ExitState.ACCEPTED, ExitState.DELETING)
    check_transition(ExitState.VERIFICATION_FAILED, ExitState.DELETING)
    check_transition(ExitState.VERIFIED, ExitState.ACCEPTED, actor="b", exited_by="a")


# ---------------------------------------------------------------- a consumer's exit


@pytest.fixture
def consumer_world(database: Database, tmp_path: Path) -> Iterator[tuple[Database, ExitDesk]]:
    audit_events.install_sink(database.url)
    desk = exit_desk(database, tmp_path, None, dt.date(2026, 12, 2))
    assert desk.accounts is not None
    desk.accounts.create_consumer(
        ADMIN, ConsumerSpec(id="suzhou_rcb", name="宿州农商行", name_en="Suzhou RCB", kind="bank")
    )
    desk.accounts.set_agreement(
        ADMIN,
        AgreementSpec(
            consumer_id="suzhou_rcb",
            product="enterprise_credit",
            purposes=["pre_loan_review"],
            valid_from=dt.date(2026, 7, 1),
            valid_until=dt.date(2027, 6, 30),
            daily_quota=1000,
            monthly_quota=20000,
            price_fen=50,
            regions=["341300"],
        ),
    )
    desk.accounts.issue_key(ADMIN, "suzhou_rcb")
    desk.accounts.issue_key(ADMIN, "suzhou_rcb")
    try:
        yield database, desk
    finally:
        audit_events.flush_sink()


def test_a_consumers_exit_revokes_its_keys_ends_its_agreements_and_certifies_the_keys(
    consumer_world: tuple[Database, ExitDesk],
) -> None:
    db, desk = consumer_world
    assert desk.accounts is not None
    view = desk.exit_consumer(ADMIN, "suzhou_rcb", "协议终止，退出平台")
    assert view.state is ExitState.VERIFIED
    consumer = desk.accounts.consumer("suzhou_rcb")
    assert {k.status for k in consumer.keys} == {"revoked"}
    assert {a.status for a in consumer.agreements} == {"terminated"}
    certificate, digest = desk.register.certificate(OTHER_ADMIN, view.id)
    assert {i.identifier for i in certificate.items} == {k.id for k in consumer.keys}
    assert all(i.kind is ItemKind.API_KEY and len(i.sha256) == 64 for i in certificate.items)
    assert certificate.verified
    assert view.deadline == dt.date(2027, 1, 1)
    # the freeze refuses the consumer's calls at once, whatever key it finds
    frozen = desk.freezes.list(ADMIN)
    assert [f.scope for f in frozen] == ["consumer:suzhou_rcb"]
    events = [e["action"] for e in _logged(db, "exit.")]
    assert events == ["exit.revoke", "exit.delete", "exit.certificate"]
    assert _logged(db, "exit.certificate")[0]["details"]["sha256"] == digest


def test_the_admin_who_ran_the_exit_cannot_accept_its_certificate(
    consumer_world: tuple[Database, ExitDesk],
) -> None:
    db, desk = consumer_world
    view = desk.exit_consumer(ADMIN, "suzhou_rcb", "协议终止，退出平台")
    with pytest.raises(ExitTransitionRefused, match="may not also accept"):
        desk.register.accept(ADMIN, view.id)
    with pytest.raises(Forbidden):
        desk.register.accept(OPERATOR, view.id)
    accepted = desk.register.accept(OTHER_ADMIN, view.id, "已核对")
    assert accepted.state is ExitState.ACCEPTED
    assert accepted.accepted_by == "admin-bureau"
    outcomes = [(e["actor"], e["outcome"]) for e in _logged(db, "exit.accept")]
    assert outcomes == [("admin", "denied"), ("op-runner", "denied"), ("admin-bureau", "allowed")]


def test_a_certificate_changed_after_it_was_stored_is_detected_and_not_accepted(
    consumer_world: tuple[Database, ExitDesk],
) -> None:
    db, desk = consumer_world
    view = desk.exit_consumer(ADMIN, "suzhou_rcb", "协议终止，退出平台")
    with db.session(write=True) as session:
        row = session.get(ExitRow, view.id)
        assert row is not None
        stored = json.loads(row.certificate)
        stored["items"] = stored["items"][:1]  # one key quietly dropped from the list
        row.certificate = json.dumps(stored, ensure_ascii=False, sort_keys=True)
    assert not desk.register.get(OTHER_ADMIN, view.id).certificate_intact
    with pytest.raises(CertificateTampered, match="no longer matches its sha256"):
        desk.register.certificate(OTHER_ADMIN, view.id)
    with pytest.raises(CertificateTampered):
        desk.register.accept(OTHER_ADMIN, view.id)
    assert desk.register.get(OTHER_ADMIN, view.id).state is ExitState.VERIFIED


def test_a_certificate_rewritten_with_its_sha256_is_caught_by_the_audit_log(
    consumer_world: tuple[Database, ExitDesk],
) -> None:
    db, desk = consumer_world
    view = desk.exit_consumer(ADMIN, "suzhou_rcb", "协议终止，退出平台")
    _logged(db, "exit.")  # the audit log has the exit.certificate event now
    with db.session(write=True) as session:
        row = session.get(ExitRow, view.id)
        assert row is not None
        stored = json.loads(row.certificate)
        stored["items"] = stored["items"][:1]
        row.certificate = json.dumps(stored, ensure_ascii=False, sort_keys=True)
        row.certificate_sha256 = sha256_text(row.certificate)  # a consistent forgery
    assert not desk.register.get(OTHER_ADMIN, view.id).certificate_intact
    with pytest.raises(CertificateTampered, match="the audit log recorded"):
        desk.register.accept(OTHER_ADMIN, view.id)


def test_a_subject_exits_once_and_a_reason_is_required(
    consumer_world: tuple[Database, ExitDesk],
) -> None:
    _db, desk = consumer_world
    with pytest.raises(InputError, match="--reason"):
        desk.exit_consumer(ADMIN, "suzhou_rcb", "no")
    with pytest.raises(Forbidden):
        desk.exit_consumer(OPERATOR, "suzhou_rcb", "协议终止，退出平台")
    view = desk.exit_consumer(ADMIN, "suzhou_rcb", "协议终止，退出平台")
    with pytest.raises(InputError, match=f"has exited already \\({view.id}"):
        desk.exit_consumer(ADMIN, "suzhou_rcb", "再来一次")


def test_an_exit_not_accepted_within_30_days_alarms_the_admins_once(
    consumer_world: tuple[Database, ExitDesk],
) -> None:
    db, desk = consumer_world
    view = desk.exit_consumer(ADMIN, "suzhou_rcb", "协议终止，退出平台")
    register = desk.register
    assert register.alarm_overdue(view.deadline) == []  # the 30th day is still in time
    assert register.alarm_overdue(view.deadline + dt.timedelta(days=1)) == [view.id]
    assert register.alarm_overdue(view.deadline + dt.timedelta(days=2)) == []
    with db.session() as session:
        notices = session.scalars(
            select(NoticeRow).where(NoticeRow.recipient == "group:admins")
        ).all()
    assert len(notices) == 1
    assert view.id in notices[0].text_zh
    assert "30 日期限" in notices[0].text_zh
    assert view.days_left(view.exit_date) == 30


def test_the_sha256_is_of_the_stored_bytes(consumer_world: tuple[Database, ExitDesk]) -> None:
    db, desk = consumer_world
    view = desk.exit_consumer(ADMIN, "suzhou_rcb", "协议终止，退出平台")
    with db.session() as session:
        row = session.get(ExitRow, view.id)
        assert row is not None
        assert sha256_text(row.certificate) == row.certificate_sha256
    with db.session(write=True) as session:
        session.execute(update(ExitRow).values(certificate_sha256="0" * 64))
    assert not desk.register.get(ADMIN, view.id).certificate_intact
