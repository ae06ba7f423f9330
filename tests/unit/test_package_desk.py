"""Package requests (`PackageDesk`), on SQLite and PostgreSQL: a partner's user asks for
one exact version for a scenario it is authorised for; only an administrator decides,
and a rejection says why; the host's fetch publishes or records why its checks refused;
every step is an audit event. Written as what each party would try."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.errors import InputError
from shuyu.packages.desk import PackageAsk, PackageDesk, WheelRecord
from shuyu.packages.sets import TOKEN, index_path, set_folder, set_token
from shuyu.packages.states import PackageState
from shuyu.policy import load_policies
from shuyu.review.service import Forbidden, Principal
from shuyu.store.database import Database

POLICIES = load_policies()
TODAY = dt.date(2026, 11, 23)
PARTNER = Principal("sz-credit", frozenset({"partners"}))  # suzhou_rcb
OTHER = Principal("hi-underwriter", frozenset({"partners"}))  # health_insurer
ADMIN = Principal("admin", frozenset({"admins"}))
REVIEWER = Principal("rv-bureau", frozenset({"reviewers"}))
WHEEL = WheelRecord("tiny_stats-1.2.0-py3-none-any.whl", "ab" * 32, 1234)


@pytest.fixture
def desk(database: Database) -> Iterator[PackageDesk]:
    audit_events.install_sink(database.url)
    try:
        yield PackageDesk(database, lambda: POLICIES, lambda: TODAY)
    finally:
        audit_events.flush_sink()


def _ask(name: str = "Tiny_Stats", version: str = "1.2.0", **kw: str) -> PackageAsk:
    values = {"scenario": "bank_credit", "purpose": "梯度提升基线模型", **kw}
    return PackageAsk(name=name, version=version, **values)


def _actions(database: Database) -> list[tuple[str, str, str]]:
    audit_events.flush_sink()
    return [
        (e["action"], e["actor"], e["outcome"])
        for e in AuditLog(database).events()
        if e["action"].startswith("package.")
    ]


def test_a_partner_asks_an_administrator_approves_the_host_publishes(
    desk: PackageDesk, database: Database
) -> None:
    asked = desk.request(PARTNER, _ask())
    assert (asked.name, asked.version, asked.partner) == ("tiny-stats", "1.2.0", "suzhou_rcb")
    assert asked.state is PackageState.REQUESTED
    approved = desk.decide(ADMIN, asked.id, approve=True, note="")
    assert approved.state is PackageState.APPROVED
    assert [r.id for r in desk.to_fetch()] == [asked.id]
    published = desk.fetched(asked.id, files=[WHEEL])
    assert published.state is PackageState.PUBLISHED
    assert published.files == (WHEEL,)
    assert desk.to_fetch() == []
    assert _actions(database) == [
        ("package.request", "sz-credit", "allowed"),
        ("package.decide", "admin", "allowed"),
        ("package.publish", "platform", "allowed"),
    ]


def test_only_an_administrator_decides(desk: PackageDesk, database: Database) -> None:
    asked = desk.request(PARTNER, _ask())
    for who in (PARTNER, REVIEWER):
        with pytest.raises(Forbidden):
            desk.decide(who, asked.id, approve=True, note="")
    assert [a for a in _actions(database) if a[0] == "package.decide"] == [
        ("package.decide", "sz-credit", "denied"),
        ("package.decide", "rv-bureau", "denied"),
    ]


def test_a_rejection_says_why_and_ends_the_request(desk: PackageDesk) -> None:
    asked = desk.request(PARTNER, _ask())
    with pytest.raises(InputError, match="say why"):
        desk.decide(ADMIN, asked.id, approve=False, note="")
    rejected = desk.decide(ADMIN, asked.id, approve=False, note="与场景无关，请使用 polars")
    assert (rejected.state, rejected.note) == (PackageState.REJECTED, "与场景无关，请使用 polars")
    with pytest.raises(InputError, match="cannot go from rejected to approved"):
        desk.decide(ADMIN, asked.id, approve=True, note="")
    assert desk.request(PARTNER, _ask()).state is PackageState.REQUESTED  # asked anew


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        (_ask(scenario="health_underwriting"), "not one you are authorised for"),
        (_ask(name="pysocks"), "denylist"),
        (_ask(name="PySocks"), "denylist"),
        (_ask(version="latest"), "is not a version"),
        (_ask(version=">=2"), "is not a version"),
        (_ask(name="x; rm -rf /"), "not a package name"),
        (_ask(purpose="  "), "say what the package is for"),
    ],
    ids=[
        "another scenario",
        "denylisted",
        "denylisted by another spelling",
        "no version",
        "a range",
        "not a name",
        "no purpose",
    ],
)
def test_a_request_is_refused_with_the_reason(
    desk: PackageDesk, ask: PackageAsk, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        desk.request(PARTNER, ask)


def test_staff_do_not_ask_and_the_same_version_is_not_asked_twice(desk: PackageDesk) -> None:
    with pytest.raises(Forbidden):
        desk.request(ADMIN, _ask())
    desk.request(PARTNER, _ask())
    with pytest.raises(InputError, match=r"tiny-stats==1\.2\.0 is requested already"):
        desk.request(PARTNER, _ask(name="tiny.stats"))


def test_a_partner_sees_its_own_requests_and_what_is_published(desk: PackageDesk) -> None:
    mine = desk.request(PARTNER, _ask())
    theirs = desk.request(OTHER, _ask(name="lifelines", scenario="health_underwriting"))
    assert [r.id for r in desk.visible_to(PARTNER)] == [mine.id]
    desk.decide(ADMIN, theirs.id, approve=True, note="")
    desk.fetched(theirs.id, files=[WHEEL])
    assert {r.id for r in desk.visible_to(PARTNER)} == {mine.id, theirs.id}
    assert {r.id for r in desk.visible_to(ADMIN)} == {mine.id, theirs.id}
    with pytest.raises(Forbidden):
        desk.visible_to(REVIEWER)


def test_a_refusal_by_the_checks_is_recorded_and_may_be_approved_again(
    desk: PackageDesk, database: Database
) -> None:
    asked = desk.request(PARTNER, _ask())
    desk.decide(ADMIN, asked.id, approve=True, note="")
    failed = desk.fetched(asked.id, files=[], refused="needs_build-0.1.tar.gz: not a wheel")
    assert (failed.state, failed.note) == (
        PackageState.FAILED,
        "needs_build-0.1.tar.gz: not a wheel",
    )
    assert ("package.refuse", "platform", "denied") in _actions(database)
    assert (
        desk.decide(ADMIN, asked.id, approve=True, note="策略已调整").state is PackageState.APPROVED
    )


PER_SCENARIO = POLICIES.model_copy(
    update={
        "sandbox": POLICIES.sandbox.model_copy(
            update={"packages": POLICIES.sandbox.packages.model_copy(update={"per_scenario": True})}
        )
    }
)


def test_with_sets_per_scenario_an_approval_is_for_the_request_s_scenario_only(
    database: Database,
) -> None:
    audit_events.install_sink(database.url)
    desk = PackageDesk(database, lambda: PER_SCENARIO, lambda: TODAY)
    theirs = desk.request(OTHER, _ask(scenario="health_underwriting"))
    assert theirs.index_set == "health_underwriting"
    desk.decide(ADMIN, theirs.id, approve=True, note="")
    desk.fetched(theirs.id, files=[WHEEL])
    # the bank's sandboxes cannot install it: not listed to the bank, nor to its runs
    assert desk.visible_to(PARTNER) == []
    assert desk.published_for("bank_credit") == []
    assert [r.id for r in desk.published_for("health_underwriting")] == [theirs.id]
    # so the bank may ask for the same version for its own scenario, and gets its own
    mine = desk.request(PARTNER, _ask())
    assert (mine.index_set, mine.state) == ("bank_credit", PackageState.REQUESTED)
    with pytest.raises(InputError, match="requested already"):
        desk.request(PARTNER, _ask())
    audit_events.flush_sink()


def test_each_scenario_s_set_has_its_own_unguessable_folder(database: Database) -> None:
    bank, health = set_token(database, "bank_credit"), set_token(database, "health_underwriting")
    assert TOKEN.match(bank)
    assert TOKEN.match(health)
    assert bank != health
    assert set_token(database, "bank_credit") == bank  # kept, not made anew
    assert set_folder(database, "bank_credit") == f".sets/{bank}"
    assert set_folder(database, "") == ""
    policy = PER_SCENARIO.sandbox.packages
    assert index_path(database, policy, "bank_credit") == f"{bank}/simple/"
    assert index_path(database, POLICIES.sandbox.packages, "bank_credit") == "simple/"
