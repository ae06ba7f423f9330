"""Governance's notices: on the recipients' pages (the notices table the review and
production pages read) and by the site's webhook, as production tells its operators."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from shuyu.audit.events import now_iso
from shuyu.review.tables import NoticeRow

Notify = Callable[[dict[str, Any]], None]
ADMINS = "group:admins"
OPERATORS = "group:operators"


def tell(
    session: Any, notify: Notify, recipients: Iterable[str], zh: str, en: str, **about: str
) -> None:
    """One notice per recipient (a username or `group:<name>`), in the caller's
    transaction: it is on the pages exactly when the change it reports is committed."""
    for recipient in dict.fromkeys(recipients):
        session.add(NoticeRow(ts=now_iso(), recipient=recipient, text_zh=zh, text_en=en))
        notify({"recipient": recipient, **about, "text_zh": zh, "text_en": en})
