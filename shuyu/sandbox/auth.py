"""Login: NativeAuthenticator with admin approval, password rules and lock-out, limited
to the accounts the policies name.

Upstream NativeAuthenticator pre-approves every name in `allowed_users`; here only
administrators are pre-approved, so every other account — even one the policies name —
waits for an administrator's approval after sign-up. Names the policies do not know
cannot sign up at all (default deny).
"""

from __future__ import annotations

from typing import Any

from nativeauthenticator import NativeAuthenticator
from traitlets import default

from shuyu.audit.events import audit_event


class ShuyuNativeAuthenticator(NativeAuthenticator):  # type: ignore[misc]
    @default("minimum_password_length")
    def _default_min_length(self) -> int:
        return 12

    @default("check_common_password")
    def _default_common(self) -> bool:
        return True

    @default("allowed_failed_logins")
    def _default_failed(self) -> int:
        return 5

    @default("seconds_before_next_try")
    def _default_wait(self) -> int:
        return 600

    def get_authed_users(self) -> set[str]:
        """Approved accounts and administrators; NOT every allowed name (upstream)."""
        approved = {info.username for info in self._all_user_info() if info.is_authorized}
        return approved | set(self.admin_users)

    def _all_user_info(self) -> list[Any]:
        from nativeauthenticator.orm import UserInfo  # noqa: PLC0415 - needs the hub's db

        return list(UserInfo.all_users(self.db))

    def validate_username(self, username: str) -> bool:
        if self.allowed_users and username not in self.allowed_users | self.admin_users:
            return False
        return bool(super().validate_username(username))

    async def authenticate(self, handler: Any, data: dict[str, Any]) -> str | None:
        username = self.normalize_username(data.get("username", ""))
        blocked = bool(self.allowed_failed_logins) and self.is_blocked(username)
        result: str | None = await super().authenticate(handler, data)
        outcome = "allowed" if result else "denied"
        audit_event(
            "hub.login",
            username,
            outcome,
            locked_out=blocked,
            remote_ip=getattr(getattr(handler, "request", None), "remote_ip", None),
        )
        return result

    def create_user(self, username: str, password: str, **kwargs: Any) -> Any:
        created = super().create_user(username, password, **kwargs)
        audit_event(
            "hub.signup",
            username,
            "allowed" if created else "denied",
            awaiting_approval=bool(created and not created.is_authorized),
        )
        return created
