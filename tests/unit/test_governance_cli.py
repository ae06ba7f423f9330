"""`shuyu freeze` and `shuyu filing` from a shell: the administrator's freeze and its
lifting against the platform database named by SHUYU_DB_URL, and bad input named
before anything is opened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shuyu.audit.events import flush_sink
from shuyu.audit.log import AuditLog
from shuyu.cli.main import main
from shuyu.governance.freezes import read_active_freezes
from shuyu.store.database import Database


@pytest.fixture
def platform_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    Database(url).upgrade()
    monkeypatch.setenv("SHUYU_DB_URL", url)
    flush_sink()  # the process's audit sink, if any, is this database's from now on
    yield url
    flush_sink()


def test_an_administrator_freezes_and_lifts_a_partner_from_the_shell(
    platform_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["freeze", "apply", "--as", "admin", "--scope", "partner:suzhou_rcb",
                 "--reason", "疑似数据泄露，启动应急预案"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "partner:suzhou_rcb" in capsys.readouterr().out
    (active,) = read_active_freezes(platform_db)
    assert active.scope == "partner:suzhou_rcb"

    assert main(["freeze", "list", "--as", "admin"]) == 0
    assert active.id in capsys.readouterr().out
    code = main(["freeze", "lift", "--as", "admin", "--scope", "partner:suzhou_rcb",
                 "--reason", "核查完毕，解除冻结"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert read_active_freezes(platform_db) == []
    flush_sink()
    acts = [e["action"] for e in AuditLog(Database(platform_db)).events()]
    assert acts == ["freeze.apply", "freeze.lift"]  # in the platform's audit log


def test_an_operator_cannot_freeze_and_a_bad_scope_is_named(
    platform_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["freeze", "apply", "--as", "op-runner", "--scope", "platform",
                 "--reason", "试图冻结平台"])  # fmt: skip
    assert code == 2
    assert "not in admins" in capsys.readouterr().err
    code = main(["freeze", "apply", "--as", "admin", "--scope", "bank", "--reason", "原因原因"])
    assert code == 2
    assert "partner:ID" in capsys.readouterr().err
    assert read_active_freezes(platform_db) == []


def test_filing_names_a_bad_product_and_a_partner_account_before_opening_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["filing", "create", "--as", "admin", "Bank Credit"]) == 2
    assert "<scenario>.<partner>" in capsys.readouterr().err
    assert main(["filing", "list", "--as", "sz-credit"]) == 2
    assert "is not a staff account" in capsys.readouterr().err
    assert main(["filing", "export", "--as", "admin", "F1", "--out", "x", "--format", "pdf"]) == 2
    assert "--format" in capsys.readouterr().err
