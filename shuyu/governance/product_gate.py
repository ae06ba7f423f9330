"""What the product API asks on each call, from memory: is the product's filing in
force, and is the product, its model's partner or scenario, the caller or the platform
frozen?

The live side of a filing (the model the API loaded, the policies, the shipped
production notebook) changes only when the API reloads its products, so its
fingerprint is computed once per loaded model. The filed side and the freezes are
read from the database at most every `interval` seconds, by whichever call finds them
due (one query each); every other call reads the cached answer. A filing, re-filing,
freeze or lift takes effect within `interval` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shuyu.governance.filing_check import (
    FilingStatus,
    compare,
    live_content,
    production_notebook_sha256,
)
from shuyu.governance.filing_store import latest_fingerprints
from shuyu.governance.freezes import FreezeView, active_freezes, matching, model_scope
from shuyu.policy.models import Policies
from shuyu.products.refusals import Code, Refusal
from shuyu.store.database import Database

if TYPE_CHECKING:
    from shuyu.products.gateway import ServedProduct


@dataclass(frozen=True)
class _Live:
    model: object  # the loaded model the fingerprint was computed for
    content: object  # FilingContent | None
    problem: str


class ProductGovernance:
    def __init__(
        self,
        db: Database,
        policies: Callable[[], Policies],
        *,
        interval: float = 2.0,
        notebooks: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.policies = policies
        self.interval = interval
        self.notebooks = notebooks
        self.clock = clock
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._filed: dict[str, tuple[str, str]] = {}
        self._freezes: list[FreezeView] = []
        self._live: dict[str, _Live] = {}
        self._status: dict[tuple[str, int], FilingStatus] = {}
        self._generation = 0

    def _refresh(self) -> None:
        now = self.clock()
        if now - self._read_at < self.interval:
            return
        with self._lock:
            if now - self._read_at < self.interval:
                return
            with self.db.engine.connect() as connection:
                filed = latest_fingerprints(connection)
                freezes = active_freezes(connection)
            self._filed, self._freezes = filed, freezes
            self._status = {}
            self._generation += 1
            self._read_at = now

    def _live_of(self, served: ServedProduct) -> _Live:
        scorer = served.scorer
        assert scorer is not None
        model = scorer.model
        live = self._live.get(served.product.id)
        if live is not None and live.model is model:
            return live
        content, problem = live_content(
            self.policies(),
            [served.product],
            record=model.record,
            model_version=model.version,
            notebook_sha256=production_notebook_sha256(served.product.scenario, self.notebooks),
        )
        live = _Live(model, content, problem)
        with self._lock:
            self._live[served.product.id] = live
            self._status = {k: v for k, v in self._status.items() if k[0] != served.product.id}
        return live

    def filing(self, served: ServedProduct) -> FilingStatus:
        self._refresh()
        live = self._live_of(served)
        key = (served.product.id, id(live))
        status = self._status.get(key)
        if status is None:
            product = served.product.model
            status = compare(
                product,
                live.content,  # type: ignore[arg-type]
                self._filed.get(product),
                live.problem,
            )
            self._status[key] = status
        return status

    def refusal(self, served: ServedProduct, consumer_id: str) -> Refusal | None:
        """Why this call may not be served, or None (the cached answer)."""
        self._refresh()
        product = served.product
        scenario, partner = model_scope(product.model)
        frozen = matching(
            self._freezes,
            partner=partner,
            scenario=product.scenario or scenario,
            products=[product.id, product.model],
            consumer=consumer_id,
        )
        if frozen is not None:
            return Refusal(Code.FROZEN, f"{frozen.id}: {frozen.reason}")
        if served.scorer is None:
            return None  # unavailable: the gateway says so with its own code
        status = self.filing(served)
        if not status.in_force:
            return Refusal(Code.FILING_STALE, status.reason_en)
        return None
