"""What a check runner runs (`python -m shuyu.selfcheck.run`): platform code only.

It reads the mounted snapshot and in-domain data (`shuyu.selfcheck.context`), runs every
registered check with progress on stderr, writes /output/report.json (the typed
`SelfCheckReport`) and renders the bilingual report: papermill executes
notebooks/reports/selfcheck_report.ipynb on report.json, nbconvert makes it HTML with
the code cells hidden. Exit 0 pass, 1 fail, 2 could not run.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from shuyu.fsutil import atomic_write_text, file_sha256
from shuyu.notebooks import execute, to_html
from shuyu.policy import load_policies
from shuyu.selfcheck.context import (
    DATA_ROOT,
    FINGERPRINTS_ROOT,
    INPUT_ROOT,
    OUTPUT_ROOT,
    CheckContext,
    SubmissionInput,
)
from shuyu.selfcheck.registry import run_checks
from shuyu.selfcheck.result import SelfCheckReport

REPORT_NOTEBOOK = "selfcheck_report.ipynb"


def context(
    input_root: Path = INPUT_ROOT,
    data_root: Path = DATA_ROOT,
    fingerprints: Path = FINGERPRINTS_ROOT,
    today: dt.date | None = None,
) -> CheckContext:
    submission = SubmissionInput.model_validate_json(
        (input_root / "submission.json").read_text(encoding="utf-8")
    )
    return CheckContext(
        policies=load_policies(),
        submission=submission,
        model_dir=input_root / "model",
        artifacts_dir=input_root / "artifacts",
        code_dir=input_root / "code",
        view_dir=data_root / submission.scenario,
        fingerprints_dir=fingerprints,
        today=today or dt.date.today(),
    )


def examine(ctx: CheckContext) -> SelfCheckReport:
    import shuyu.selfcheck.checks  # noqa: F401, PLC0415 - registers every check

    def progress(index: int, total: int, check_id: str) -> None:
        print(f"[{index}/{total}] {check_id} …", file=sys.stderr, flush=True)

    results = run_checks(ctx, progress)
    membership = next((r.membership for r in results if r.membership is not None), None)
    examined = {
        f"{folder.name}/{p.relative_to(folder)}": file_sha256(p)
        for folder in (ctx.model_dir, ctx.code_dir)
        if folder.is_dir()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    submission = ctx.submission
    return SelfCheckReport(
        submission_id=submission.submission_id,
        run_id=submission.run.run_id,
        scenario=submission.scenario,
        partner=submission.partner,
        submitter=submission.submitter,
        created_at=dt.datetime.now(dt.UTC),
        results=results,
        privacy=submission.privacy,
        membership=membership,
        inputs_sha256=examined,
    )


def render(report_json: Path, out: Path, notebooks: Path) -> None:
    """report.ipynb (executed) and report.html (code hidden) beside report.json."""
    executed = out / "report.ipynb"
    execute(notebooks / REPORT_NOTEBOOK, executed, {"report_path": str(report_json)}, cwd=out)
    atomic_write_text(out / "report.html", to_html(executed, hide_code=True))


def notebooks_dir() -> Path:
    """notebooks/reports of the source tree, else the runner image's copy."""
    here = Path(__file__).resolve().parents[2] / "notebooks" / "reports"
    return here if here.is_dir() else Path("/opt/shuyu/notebooks/reports")


def main() -> int:
    ctx = context()
    report = examine(ctx)
    report_json = OUTPUT_ROOT / "report.json"
    atomic_write_text(report_json, report.model_dump_json(indent=1))
    print(f"self-check: {report.status.value}", file=sys.stderr)
    render(report_json, OUTPUT_ROOT, notebooks_dir())
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
