"""`shuyu products …` as an administrator uses it: consumers, keys shown once, agreements,
feature tables, unblocking, statements — and refused to anyone not an administrator."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.cli.main import main
from shuyu.products.cases import CaseDesk
from shuyu.products.monitor_rules import Hit
from shuyu.store.database import Database
from tests.unit.product_world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("cli"), n=120)


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SHUYU_PRODUCT_KEY_PEPPER_FILE", str(tmp_path / "secrets" / "pepper"))
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["products", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_administrator_sets_up_a_bank_and_its_key_is_printed_once(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "consumer", "create", "suzhou_rcb", "--name", "宿州农商行", "--name-en",
        "Suzhou RCB", "--kind", "bank", "--admin", "admin", "--db", db_url,
    )  # fmt: skip
    assert (code, err) == (0, "")
    code, out, _ = run(capsys, "key", "issue", "suzhou_rcb", "--admin", "admin", "--db", db_url)
    assert code == 0
    token = re.search(r"sy_[0-9a-f]{12}_\S{43}", out)
    assert token is not None
    code, out, err = run(
        capsys, "agreement", "set", "suzhou_rcb", "enterprise_credit", "--admin", "admin",
        "--purpose", "pre_loan_review", "--from", "2026-07-01", "--until", "2027-06-30",
        "--daily", "1000", "--monthly", "20000", "--price", "0.50", "--region", "341300",
        "--db", db_url,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["price_fen"] == 50
    code, listing, _ = run(capsys, "consumer", "list", "--db", db_url)
    assert token.group(0) not in listing  # never shown again
    assert json.loads(listing)[0]["keys"][0]["status"] == "active"
    assert (tmp_path / "secrets" / "pepper").stat().st_mode & 0o077 == 0


def test_someone_who_is_not_an_administrator_is_refused(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    for who in ("sz-credit", "rv-bureau", "nobody"):
        code, _, err = run(
            capsys, "consumer", "create", "rogue", "--name", "x", "--name-en", "x", "--kind",
            "bank", "--admin", who, "--db", db_url,
        )  # fmt: skip
        assert code == 2
        assert "not an administrator" in err


def test_a_price_must_be_yuan_and_fen(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    run(capsys, "consumer", "create", "b", "--name", "b", "--name-en", "b", "--kind", "bank",
        "--admin", "admin", "--db", db_url)  # fmt: skip
    code, _, err = run(
        capsys, "agreement", "set", "b", "enterprise_credit", "--admin", "admin", "--purpose",
        "pre_loan_review", "--from", "2026-07-01", "--until", "2027-06-30", "--daily", "10",
        "--monthly", "100", "--price", "0.505", "--region", "341300", "--db", db_url,
    )  # fmt: skip
    assert code == 2
    assert "--price" in err


def test_unblocking_needs_the_administrator_and_a_reason(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    run(capsys, "consumer", "create", "b", "--name", "b", "--name-en", "b", "--kind", "bank",
        "--admin", "admin", "--db", db_url)  # fmt: skip
    _, out, _ = run(capsys, "key", "issue", "b", "--admin", "admin", "--db", db_url)
    key_id = re.search(r"sy_([0-9a-f]{12})_", out).group(1)  # type: ignore[union-attr]
    database = Database(db_url)
    audit_events.install_sink(db_url)  # the monitor's process writes the log too
    case_id = CaseDesk(database).block_key(
        Hit("night_calls", "夜间高频次调用", "night-time high frequency", {"subjects": 201}),
        key_id=key_id,
        consumer_id="b",
        product="enterprise_credit",
    )
    audit_events.flush_sink()
    code, out, _ = run(capsys, "case", "list", "--db", db_url)
    assert case_id in out
    assert "待核查" in out
    code, _, err = run(
        capsys, "unblock", key_id, "--admin", "admin", "--reason", " ", "--db", db_url
    )
    assert code == 2
    assert "reason" in err
    code, out, _ = run(
        capsys, "unblock", key_id, "--admin", "admin", "--reason", "夜间批量为约定的贷后重评",
        "--db", db_url,
    )  # fmt: skip
    assert code == 0
    code, out, _ = run(capsys, "case", "show", case_id, "--db", db_url)
    shown = json.loads(out)
    assert (shown["state"], shown["resolution"]) == ("closed", "cleared")
    audit_events.flush_sink()
    actions = [e["action"] for e in AuditLog(database).events()]
    assert actions.count("product.unblock") == 1
    assert "product.block" in actions


def test_feature_tables_and_a_statement_csv(
    capsys: pytest.CaptureFixture[str], db_url: str, world: World, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "features", "--masked", str(world.masked), "--out", str(tmp_path / "tables"),
        "--product", "enterprise_credit",
    )  # fmt: skip
    assert code == 0, err
    table = tmp_path / "tables" / "enterprise_credit.parquet"
    assert table.stat().st_mode & 0o077 == 0
    assert "enterprise_credit" in out
    run(capsys, "consumer", "create", "b", "--name", "b", "--name-en", "b", "--kind", "bank",
        "--admin", "admin", "--db", db_url)  # fmt: skip
    month = dt.date.today().strftime("%Y-%m")
    code, out, err = run(
        capsys, "statement", "b", "--month", month, "--admin", "admin", "--csv",
        str(tmp_path / "b.csv"), "--db", db_url,
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "b.csv").read_text(encoding="utf-8").startswith("\ufeff使用单位")
