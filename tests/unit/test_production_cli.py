"""`shuyu production`: who may act, and bad input named before anything is opened."""

from __future__ import annotations

import pytest

from shuyu.cli.main import main


def test_only_a_staff_account_may_act(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["production", "jobs", "--as", "sz-credit"]) == 2  # a partner's user
    assert "is not a staff account" in capsys.readouterr().err


def test_a_bad_job_is_named_field_by_field(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["production", "register", "--as", "op-runner", "--scenario", "Bank", "--model", "m"]
    )
    assert code == 2
    assert "--scenario" in capsys.readouterr().err
    code = main(
        ["production", "register", "--as", "op-runner", "--scenario", "bank_credit",
         "--model", "m", "-p", "run_date"]
    )  # fmt: skip
    assert code == 2
    assert "name=value" in capsys.readouterr().err
