"""Credentials against MLflow's real auth store (SQLite), remembered by the stored hash:
the second check of a credential derives no hash, and a rotated password or a deleted
user fails at once although it was remembered."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

import shuyu.tracking.credentials as credentials
from shuyu.tracking.credentials import MAX_REMEMBERED, CredentialCheck


@pytest.fixture
def store(tmp_path: Path) -> SqlAlchemyStore:
    made = SqlAlchemyStore()
    made.init_db(f"sqlite:///{tmp_path / 'auth.db'}")
    made.create_user("sz-credit", "first-secret-0123456789")
    return made


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each hash derivation the check makes (werkzeug's real one still runs)."""
    made: list[str] = []
    real = credentials.check_password_hash

    def counted(pwhash: str, password: str) -> bool:
        made.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(credentials, "check_password_hash", counted)
    return made


def test_a_verified_credential_is_checked_again_without_deriving_the_hash(
    store: SqlAlchemyStore, derivations: list[str]
) -> None:
    check = CredentialCheck(store)
    for _ in range(3):
        user = check.user("sz-credit", "first-secret-0123456789")
        assert user is not None
        assert user.username == "sz-credit"
    assert len(derivations) == 1


def test_a_wrong_password_or_unknown_user_is_refused_every_time(
    store: SqlAlchemyStore, derivations: list[str]
) -> None:
    check = CredentialCheck(store)
    assert check.user("sz-credit", "guess") is None
    assert check.user("sz-credit", "guess") is None
    assert len(derivations) == 2  # a failure is never remembered
    assert check.user("nobody", "first-secret-0123456789") is None


def test_a_rotated_password_fails_at_once_though_it_was_remembered(
    store: SqlAlchemyStore,
) -> None:
    check = CredentialCheck(store)
    assert check.user("sz-credit", "first-secret-0123456789") is not None
    # the rotation happens elsewhere (another worker, the hub): this check is not told
    store.update_user("sz-credit", password="second-secret-0123456789")
    assert check.user("sz-credit", "first-secret-0123456789") is None
    assert check.user("sz-credit", "second-secret-0123456789") is not None


def test_a_deleted_user_fails_at_once_though_it_was_remembered(store: SqlAlchemyStore) -> None:
    check = CredentialCheck(store)
    assert check.user("sz-credit", "first-secret-0123456789") is not None
    store.delete_user("sz-credit")
    assert check.user("sz-credit", "first-secret-0123456789") is None


def test_one_users_remembered_credential_is_not_anothers(store: SqlAlchemyStore) -> None:
    store.create_user("ordos-risk", "other-secret-0123456789")
    check = CredentialCheck(store)
    assert check.user("sz-credit", "first-secret-0123456789") is not None
    assert check.user("ordos-risk", "first-secret-0123456789") is None


def test_what_is_remembered_stays_bounded(
    store: SqlAlchemyStore, monkeypatch: pytest.MonkeyPatch, derivations: list[str]
) -> None:
    monkeypatch.setattr(credentials, "MAX_REMEMBERED", 2)
    store.create_user("ordos-risk", "other-secret-0123456789")
    store.create_user("hi-underwriter", "third-secret-0123456789")
    check = CredentialCheck(store)
    for name, password in (
        ("sz-credit", "first-secret-0123456789"),
        ("ordos-risk", "other-secret-0123456789"),
        ("hi-underwriter", "third-secret-0123456789"),  # the third starts over
        ("sz-credit", "first-secret-0123456789"),
    ):
        assert check.user(name, password) is not None
    assert len(derivations) == 4
    assert MAX_REMEMBERED >= 1000
