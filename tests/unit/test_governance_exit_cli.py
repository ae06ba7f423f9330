"""`shuyu exit` from the host's shell: a consumer's exit against the platform database
and the host's secrets, the certificate as a document, and the acceptance refused to
the administrator who ran it; bad input named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shuyu.audit.events import flush_sink
from shuyu.cli.main import main
from shuyu.policy import load_policies
from shuyu.products.accounts import ConsumerSpec, ProductAccounts
from shuyu.products.admins import Admin
from shuyu.products.keys import KEY_PEPPER, KeyHasher
from shuyu.products.policy import load_products_policy
from shuyu.secrets import MLFLOW_ADMIN_PASSWORD, write_secret
from shuyu.store.database import Database


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    var = tmp_path / "var"
    write_secret(var / "secrets" / "mlflow" / MLFLOW_ADMIN_PASSWORD, "not-used-by-a-consumer")
    pepper = var / "secrets" / "service" / KEY_PEPPER
    write_secret(pepper, "a pepper of at least sixteen bytes")
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    db = Database(url)
    db.upgrade()
    monkeypatch.setenv("SHUYU_VAR", str(var))
    monkeypatch.setenv("SHUYU_DB_URL", url)
    flush_sink()
    policies = load_policies()
    accounts = ProductAccounts(
        db,
        policies=lambda: policies,
        products=lambda: load_products_policy(policies),
        hasher=KeyHasher.from_file(pepper),
    )
    bank = ConsumerSpec(id="suzhou_rcb", name="宿州农商行", name_en="Suzhou RCB", kind="bank")
    accounts.create_consumer(Admin("admin"), bank)
    accounts.issue_key(Admin("admin"), "suzhou_rcb")
    yield db
    flush_sink()
    db.dispose()


def test_an_administrator_exits_a_consumer_and_cannot_accept_it_herself(
    host: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["exit", "consumer", "suzhou_rcb", "--as", "admin", "--reason", "协议终止退出"])
    assert code == 0, capsys.readouterr().err
    line = capsys.readouterr().out
    assert "consumer:suzhou_rcb  verified" in line
    exit_id = line.split()[0]
    assert main(["exit", "show", exit_id, "--as", "admin", "--format", "html"]) == 0
    assert "数据删除证明" in capsys.readouterr().out
    assert main(["exit", "accept", exit_id, "--as", "admin"]) == 2
    assert "may not also accept" in capsys.readouterr().err
    assert main(["exit", "list", "--as", "admin"]) == 0
    assert f"{exit_id}  consumer:suzhou_rcb  verified" in capsys.readouterr().out


def test_bad_input_is_named(host: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["exit", "consumer", "suzhou_rcb", "--as", "op-runner", "--reason", "试图退出"]) == 2
    )
    assert "not in admins" in capsys.readouterr().err
    assert main(["exit", "partner", "no_such", "--as", "admin", "--reason", "合作期满"]) == 2
    assert "not in policies/partners.yaml" in capsys.readouterr().err
    assert main(["exit", "consumer", "suzhou_rcb", "--as", "nobody", "--reason", "合作期满"]) == 2
    assert "not a staff account" in capsys.readouterr().err
    code = main(["exit", "show", "X1", "--as", "admin", "--format", "pdf"])
    assert code == 2
    assert "--format" in capsys.readouterr().err
