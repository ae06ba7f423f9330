"""The hub's reading of incident freezes (应急处置): the platform database's active
freezes, as the spawner refuses a new sandbox and the watch stops running ones.

No database configured (`SHUYU_DB_URL` empty: a hub without the platform's state)
means no freeze can exist. A database that cannot be read refuses the spawn: a freeze
that cannot be checked is not assumed lifted."""

from __future__ import annotations

import logging

from shuyu.governance.freezes import FreezeView, matching, read_active_freezes
from shuyu.hub.grants import NotAuthorised

_log = logging.getLogger("shuyu.hub")


def frozen_sandbox(freezes: list[FreezeView], partner: str, scenario: str) -> NotAuthorised | None:
    """Why a sandbox of `partner` on `scenario` may not run under `freezes`, or None."""
    found = matching(freezes, partner=partner, scenario=scenario)
    if found is None:
        return None
    return NotAuthorised(
        f"{found.notice_zh}。冻结期间不能启动或使用数据沙箱；请联系市数据资源管理局。",
        f"{found.notice_en}. No sandbox starts or runs while it lasts; ask the data bureau.",
    )


def freeze_refusal(db_url: str, partner: str, scenario: str) -> NotAuthorised | None:
    if not db_url:
        return None
    try:
        freezes = read_active_freezes(db_url)
    except Exception as exc:
        _log.warning("shuyu: cannot read the freezes: %s", exc)
        return NotAuthorised(
            "暂时无法确认应急冻结状态，暂不能启动沙箱；请稍后重试或联系平台管理员。",
            f"the incident freezes cannot be read now ({type(exc).__name__}); no sandbox "
            "starts until they can. Try again, or ask the platform administrator.",
        )
    return frozen_sandbox(freezes, partner, scenario)
