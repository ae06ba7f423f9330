"""Checks are registered in one place: adding a check is adding one function.

    @check("direct.pii", RiskFactor.DIRECT)
    def no_identifiers(ctx: CheckContext) -> CheckResult: ...

`run_checks` runs every registered check in order, timing each and turning an exception
into an `error` result naming the check (the self-check then could not run), and reports
progress (which check, how far) to the caller.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.result import CheckResult, RiskFactor, Status

CheckFunction = Callable[[CheckContext], CheckResult]
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RegisteredCheck:
    id: str
    factor: RiskFactor
    run: CheckFunction


CHECKS: list[RegisteredCheck] = []


def check(check_id: str, factor: RiskFactor) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        if any(c.id == check_id for c in CHECKS):
            raise ValueError(f"check {check_id!r} is registered twice")
        CHECKS.append(RegisteredCheck(check_id, factor, function))
        return function

    return register


def run_checks(
    ctx: CheckContext, progress: Progress = lambda _i, _n, _id: None
) -> list[CheckResult]:
    results: list[CheckResult] = []
    for index, registered in enumerate(CHECKS, start=1):
        progress(index, len(CHECKS), registered.id)
        started = time.monotonic()
        try:
            result = registered.run(ctx)
        except Exception as exc:  # a broken check must say so, not pass silently
            result = CheckResult(
                id=registered.id,
                factor=registered.factor,
                status=Status.ERROR,
                title_zh=f"检查 {registered.id} 未能运行",
                title_en=f"check {registered.id} could not run",
                summary_zh=f"{type(exc).__name__}: {exc}",
                summary_en=traceback.format_exception_only(exc)[-1].strip(),
            )
        results.append(result.model_copy(update={"seconds": time.monotonic() - started}))
    return results
