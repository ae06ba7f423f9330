"""Audit events as one JSON object per line on the `shuyu.audit` logger.

Every privileged action (a spawn, a refusal, a firewall change, a credential rotation, a
denied download) is emitted here, in one shape, so that the hash-chained audit store can
ingest the hub's, the sandboxes' and the services' logs alike.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

LOGGER_NAME = "shuyu.audit"
_log = logging.getLogger(LOGGER_NAME)


def audit_event(action: str, actor: str, outcome: str, **details: Any) -> dict[str, Any]:
    """Emit one audit event and return it. `outcome` is "allowed", "denied" or "error"."""
    event = {
        "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "action": action,
        "actor": actor,
        "outcome": outcome,
        **details,
    }
    _log.info(json.dumps(event, ensure_ascii=False, sort_keys=True, default=str))
    return event
