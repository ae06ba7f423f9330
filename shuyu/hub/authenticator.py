"""Login: NativeAuthenticator with administrator approval, password rules and lock-out,
limited to the accounts the policies name.

Upstream NativeAuthenticator pre-approves at sign-up every name in `allowed_users` and
`admin_users`, so the first person to sign up under an administrator's name would be an
administrator at once. Here sign-up never pre-approves anyone, and only partner users
may sign up at all: every such account waits for an administrator's approval. Staff
accounts (administrators, reviewers, operators) are created with a generated password by
`make up` or an administrator's command (`shuyu hub account set-password`, run in the
hub's container), never through the sign-up page.
"""

from __future__ import annotations

from typing import Any

import bcrypt
from nativeauthenticator import NativeAuthenticator
from traitlets import Set, default

from shuyu.audit.events import audit_event


class ShuyuNativeAuthenticator(NativeAuthenticator):  # type: ignore[misc]
    signup_users = Set(
        config=True,
        help="The only names that may use the sign-up page (the policies' partner users). "
        "Empty: nobody may sign up.",
    )

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
        """Accounts an administrator approved; never a name merely allowed (upstream)."""
        return {info.username for info in self._all_user_info() if info.is_authorized}

    def _all_user_info(self) -> list[Any]:
        from nativeauthenticator.orm import UserInfo  # noqa: PLC0415 - needs the hub's db

        return list(UserInfo.all_users(self.db))

    def validate_username(self, username: str) -> bool:
        if self.allowed_users and username not in self.allowed_users:
            return False
        return bool(super().validate_username(username))

    def is_approved(self, username: str) -> bool:
        """Whether `username` may log in now (the hub's periodic check asks)."""
        info = self.get_user(username)
        return bool(info is not None and info.is_authorized)

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
        """The sign-up page's path: partner users only, always awaiting approval."""
        name = self.normalize_username(username)
        if name not in self.signup_users:
            audit_event("hub.signup", name, "denied", reason="not a partner user")
            return None
        created = super().create_user(name, password, **kwargs)
        if created is not None and created.is_authorized:
            # belt and braces: no configuration (open_signup, a future upstream rule)
            # makes a sign-up approve itself
            created.is_authorized = False
            self.db.commit()
        audit_event(
            "hub.signup",
            name,
            "allowed" if created else "denied",
            awaiting_approval=created is not None,
        )
        return created


def set_account_password(db: Any, username: str, password: str, *, approved: bool) -> bool:
    """Create or reset a NativeAuthenticator account directly in the hub's database
    (staff accounts; an administrator's command). True when the account was created."""
    from nativeauthenticator.orm import UserInfo  # noqa: PLC0415 - needs the hub's db

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    info = UserInfo.find(db, username)
    created = info is None
    if info is None:
        info = UserInfo(username=username, password=hashed, is_authorized=approved)
        db.add(info)
    else:
        info.password = hashed
        info.is_authorized = approved
    db.commit()
    return created
