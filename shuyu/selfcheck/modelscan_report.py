"""ProtectAI's modelscan (the `selfcheck` extra; its core needs only numpy, tomlkit,
click and rich, no TensorFlow) over a folder, its report tallied as evidence.
modelscan chooses its scanner by file extension and does not read ONNX, tar or gzip, so
every member recognised as a pickle by its bytes (renamed, nested in any archive,
compressed) is shown to modelscan again under a `.pkl` name (`second_look`)."""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.evidence import evidence_item
from shuyu.selfcheck.result import Evidence
from shuyu.selfcheck.serialised_code import is_pickle
from shuyu.selfcheck.snapshot_files import model_roots, walk_entries


def modelscan_unavailable() -> str | None:
    """Why modelscan cannot run here, or None."""
    try:
        from modelscan.modelscan import ModelScan  # noqa: F401, PLC0415
    except ImportError as exc:
        return f"modelscan is not installed ({exc}); install the `selfcheck` extra"
    return None


def run_modelscan(path: Path) -> dict[str, Any]:
    from modelscan.modelscan import ModelScan  # noqa: PLC0415
    from modelscan.settings import DEFAULT_SETTINGS  # noqa: PLC0415

    report: dict[str, Any] = ModelScan(settings=copy.deepcopy(DEFAULT_SETTINGS)).scan(path)
    return report


@dataclass
class ScanTally:
    scanned: int = 0
    skipped: int = 0
    issues: list[Evidence] = field(default_factory=list)
    errors: list[Evidence] = field(default_factory=list)

    def add(self, report: dict[str, Any], name: Any) -> None:
        summary = report.get("summary", {})
        self.scanned += int(summary.get("scanned", {}).get("total_scanned", 0))
        self.skipped += int(summary.get("skipped", {}).get("total_skipped", 0))
        for issue in report.get("issues", []):
            self.issues.append(
                evidence_item(
                    f"modelscan {issue.get('severity', '')}：{issue.get('description', '')}",
                    f"modelscan {issue.get('severity', '')}: {issue.get('description', '')}",
                    name(str(issue.get("source", ""))),
                    f"{issue.get('module', '')}.{issue.get('operator', '')}",
                )
            )
        for error in report.get("errors", []):
            self.errors.append(
                evidence_item(
                    "modelscan 无法扫描",
                    f"modelscan could not scan: {error.get('description', error)}"[:300],
                    name(str(error.get("source", ""))),
                )
            )


def second_look(ctx: CheckContext, tally: ScanTally) -> int:
    """Show modelscan, as `.pkl` files, the pickles it would have missed (renamed, nested
    in tar or gzip, compressed)."""
    pickles = [
        e
        for e in walk_entries(model_roots(ctx), ctx.thresholds, [])
        if is_pickle(e.data)
        and not (
            e.name.endswith((".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth", ".bin", ".ckpt"))
            and "!" not in e.where
        )
    ]
    if not pickles:
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="shuyu-modelscan-") as scratch:
            names = {}
            for i, entry in enumerate(pickles):
                name = f"{i:05d}.pkl"
                Path(scratch, name).write_bytes(entry.data)
                names[name] = entry.where
            tally.add(run_modelscan(Path(scratch)), lambda source: names.get(source, source))
    except OSError as exc:
        tally.errors.append(
            evidence_item(
                "无法复查按内容识别的 pickle", f"second look at renamed pickles failed: {exc}"
            )
        )
    return len(pickles)
