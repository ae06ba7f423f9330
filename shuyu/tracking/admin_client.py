"""A typed client over the MLflow server's account and permission API, as an administrator.

Every method is idempotent: `ensure_user` creates or resets, `grant` sets (MLflow stores
one permission per user and resource), `ensure_experiment` creates or finds. Only
`requests` is needed, so the hub can use it without installing MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shuyu.errors import ShuyuError
from shuyu.tracking.http import MlflowHttp, error_message

GATE_USERNAME = "registry-gate"
"""The review service's account: the only non-administrator that may write the registry."""

ADMIN_USERNAME = "admin"


class Permission(StrEnum):
    READ = "READ"
    USE = "USE"
    EDIT = "EDIT"
    MANAGE = "MANAGE"
    NO_PERMISSIONS = "NO_PERMISSIONS"


@dataclass(frozen=True)
class MlflowUser:
    username: str
    is_admin: bool


class MlflowAccounts(MlflowHttp):
    """Administrator's view of one MLflow server: accounts, grants, experiments."""

    def __enter__(self) -> MlflowAccounts:
        return self

    # ------------------------------------------------------------ users

    def get_user(self, username: str) -> MlflowUser | None:
        response = self._call(
            "GET", "/api/2.0/mlflow/users/get", params={"username": username}, ok=(200, 404)
        )
        if response.status_code == 404:
            return None
        user = response.json()["user"]
        return MlflowUser(username=user["username"], is_admin=bool(user.get("is_admin")))

    def create_user(self, username: str, password: str) -> None:
        self._call(
            "POST",
            "/api/2.0/mlflow/users/create",
            json={"username": username, "password": password},
        )

    def set_password(self, username: str, password: str) -> None:
        self._call(
            "PATCH",
            "/api/2.0/mlflow/users/update-password",
            json={"username": username, "password": password},
        )

    def ensure_user(self, username: str, password: str) -> bool:
        """Create `username` with `password`, or reset its password; True if created."""
        if self.get_user(username) is None:
            self.create_user(username, password)
            return True
        self.set_password(username, password)
        return False

    # ------------------------------------------------------------ permissions

    def grant(
        self, username: str, experiment_id: str, permission: Permission = Permission.EDIT
    ) -> None:
        """Set `username`'s permission on an experiment (create or update)."""
        body = {**_experiment_of(username, experiment_id), "permission": permission.value}
        path = "/api/3.0/mlflow/users/permissions/grant"
        response = self._call("POST", path, json=body, ok=(200, 400))
        if response.status_code == 200:
            return
        if "already exists" not in error_message(response):
            self._call("POST", path, json=body)  # raises with MLflow's message
        # MLflow refuses to grant over an existing grant: keep it if equal, else replace
        if self.permission(username, experiment_id) is not permission:
            self.revoke(username, experiment_id)
            self._call("POST", path, json=body)

    def revoke(self, username: str, experiment_id: str) -> None:
        self._call(
            "POST",
            "/api/3.0/mlflow/users/permissions/revoke",
            json=_experiment_of(username, experiment_id),
            ok=(200, 404),
        )

    def permission(self, username: str, experiment_id: str) -> Permission | None:
        """`username`'s own grant on the experiment, or None when there is none."""
        response = self._call(
            "GET",
            "/api/3.0/mlflow/users/permissions/get",
            params=_experiment_of(username, experiment_id),
            ok=(200, 404),
        )
        if response.status_code == 404:
            return None
        found = Permission(response.json()["permission"])
        # MLflow 3.17 answers a revoked grant with NO_PERMISSIONS rather than 404
        return None if found is Permission.NO_PERMISSIONS else found

    # ------------------------------------------------------------ experiments

    def experiment_id(self, name: str) -> str | None:
        response = self._call(
            "GET",
            "/api/2.0/mlflow/experiments/get-by-name",
            params={"experiment_name": name},
            ok=(200, 404),
        )
        if response.status_code == 404:
            return None
        return str(response.json()["experiment"]["experiment_id"])

    def experiment_ids(self, like: str) -> dict[str, str]:
        """Name → id of every active experiment whose name matches the SQL LIKE pattern
        `like`: one call where `experiment_id` would take one per name."""
        found: dict[str, str] = {}
        token: str | None = None
        while True:
            body: dict[str, Any] = {"filter": f"name LIKE '{like}'", "max_results": 1000}
            if token:
                body["page_token"] = token
            page = self._call("POST", "/api/2.0/mlflow/experiments/search", json=body).json()
            found |= {e["name"]: str(e["experiment_id"]) for e in page.get("experiments", [])}
            token = page.get("next_page_token")
            if not token:
                return found

    def ensure_experiment(self, name: str, tags: dict[str, str] | None = None) -> str:
        """The id of experiment `name`, created (with `tags`) if absent."""
        existing = self.experiment_id(name)
        if existing is not None:
            return existing
        payload: dict[str, Any] = {"name": name}
        if tags:
            payload["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]
        response = self._call(
            "POST", "/api/2.0/mlflow/experiments/create", json=payload, ok=(200, 400, 409)
        )
        if response.status_code != 200:  # created meanwhile by a concurrent caller
            found = self.experiment_id(name)
            if found is None:
                raise ShuyuError(
                    f"cannot create MLflow experiment {name!r}: {error_message(response)}"
                )
            return found
        return str(response.json()["experiment_id"])


def _experiment_of(username: str, experiment_id: str) -> dict[str, str]:
    """How the permission API names one user's grant on one experiment."""
    return {"username": username, "resource_type": "experiment", "resource_id": experiment_id}
