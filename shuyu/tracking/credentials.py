"""Basic-auth credentials checked against MLflow's user store, remembered by the hash
they were checked against (`authorization_function` in mlflow/basic_auth.ini).

MLflow's own function derives the password hash (werkzeug's scrypt, about 0.1 s of CPU)
each time it is called, and its permission validators call it again inside the same
request: two or three derivations for every request a partner's client makes. Here a
credential, once it verified, is remembered with the stored hash it verified against.
Every check still reads the user's row, and only the same stored hash accepts the
remembered credential: a rotated password (each spawn rotates it) or a deleted user fails
at once in every server worker. MLflow's own credential cache, which forgets by time,
would let a rotated password live on in the worker that did not handle the rotation.
Remembered entries are HMACs under a key of this process; the passwords themselves are
never kept.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.security import check_password_hash

if TYPE_CHECKING:
    from flask import Response
    from werkzeug.datastructures import Authorization

MAX_REMEMBERED = 10_000
"""More distinct credentials than a site has accounts × spawns in a day: then start over."""


class _User(Protocol):
    @property
    def username(self) -> str: ...

    @property
    def password_hash(self) -> str: ...


class UserStore(Protocol):
    """The part of MLflow's auth store (`SqlAlchemyStore`) a check needs."""

    def get_user(self, username: str) -> Any: ...


class CredentialCheck:
    def __init__(self, store: UserStore) -> None:
        self._store = store
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._verified: dict[tuple[str, bytes], str] = {}

    def user(self, username: str, password: str) -> Any | None:
        """MLflow's user for these credentials, or None (unknown user, wrong password)."""
        try:
            found: _User = self._store.get_user(username)
        except Exception:  # MLflow raises for an unknown user; it is simply not a user
            return None
        key = (username, hmac.new(self._key, password.encode("utf-8"), "sha256").digest())
        with self._lock:
            known = self._verified.get(key)
        if known is not None and hmac.compare_digest(known, found.password_hash):
            return found
        # derive outside the lock: other credentials are checked meanwhile
        if not check_password_hash(found.password_hash, password):
            return None
        with self._lock:
            if len(self._verified) >= MAX_REMEMBERED:
                self._verified.clear()
            self._verified[key] = found.password_hash
        return found


@functools.cache
def server_check() -> CredentialCheck:
    """The check over the MLflow server's own auth store (made by its auth app): one per
    server process, like the store."""
    from mlflow.server.auth import store  # noqa: PLC0415 - server-only dependency

    return CredentialCheck(store)


def authenticate_request() -> Authorization | Response:
    """MLflow's `authorization_function`: the request's Basic credentials, or a 401."""
    from flask import request  # noqa: PLC0415
    from mlflow.server.auth import make_basic_auth_response  # noqa: PLC0415

    given = request.authorization
    if (
        given is None
        or given.type != "basic"
        or not given.username
        or given.password is None
        or server_check().user(given.username, given.password) is None
    ):
        return make_basic_auth_response()
    return given
