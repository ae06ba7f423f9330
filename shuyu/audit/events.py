"""Audit events: one call, `audit_event`, in every process that acts.

Each event is logged as one JSON line on the `shuyu.audit` logger and, where the process
has a database (`install_sink`, from `PlatformSettings.db_url`), appended to the
hash-chained audit log (`shuyu.audit.log`) through a buffered writer. The action must be
one of `shuyu.audit.actions.ACTIONS` and the outcome allowed, denied or error.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import sys
import threading
from typing import Any

from shuyu.audit.actions import ACTIONS, Outcome

LOGGER_NAME = "shuyu.audit"
_log = logging.getLogger(LOGGER_NAME)
_sink: Any = None
_sink_lock = threading.Lock()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def audit_event(
    action: str,
    actor: str,
    outcome: str,
    *,
    role: str = "",
    target: str = "",
    **details: Any,
) -> dict[str, Any]:
    """Emit one audit event and return it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to shuyu/audit/actions.py")
    Outcome(outcome)
    event = {
        "ts": now_iso(),
        "action": action,
        "actor": actor,
        "outcome": outcome,
        **({"role": role} if role else {}),
        **({"target": target} if target else {}),
        **details,
    }
    _log.info(json.dumps(event, ensure_ascii=False, sort_keys=True, default=str))
    sink = _sink
    if sink is not None:
        from shuyu.audit.log import AuditEvent  # noqa: PLC0415 - needs SQLAlchemy

        sink.put(
            AuditEvent(
                ts=event["ts"],
                actor=actor,
                action=action,
                outcome=outcome,
                role=role,
                target=target,
                details=details,
            )
        )
    return event


def install_sink(db_url: str) -> None:
    """Append this process's events to the audit log at `db_url` from now on."""
    global _sink  # noqa: PLW0603 - one sink per process
    if not db_url:
        return
    with _sink_lock:
        if _sink is not None:
            return
        from shuyu.audit.log import AuditLog, BufferedAuditWriter  # noqa: PLC0415
        from shuyu.store.database import Database  # noqa: PLC0415

        writer = BufferedAuditWriter(AuditLog(Database(db_url)))
        atexit.register(writer.close)
        _sink = writer


def flush_sink() -> None:
    """Write what is queued now (tests; a process about to exit)."""
    global _sink  # noqa: PLW0603
    with _sink_lock:
        if _sink is not None:
            _sink.close()
            _sink = None


def log_to_stderr() -> None:
    """Give `shuyu.audit` a stderr handler where the process's own logging has none
    (the hub's and MLflow's logging know nothing of it: INFO events would be dropped)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
