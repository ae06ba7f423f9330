"""`shuyu report …`: the annual evaluation (年度评估) for the bureau — the figures the
platform's records prove, as a self-contained HTML report and JSON — and the manual
figures an administrator enters for it.

Every command names the administrator (`--admin`, a staff account of group `admins` in
policies/partners.yaml): producing the report and entering a figure are audited under
that name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.audit.events import flush_sink, install_sink
from shuyu.errors import InputError
from shuyu.fsutil import atomic_write_text
from shuyu.governance.annual import MANUAL, AnnualEvaluation
from shuyu.governance.annual_report import annual_html, annual_json
from shuyu.platform.layout import Layout
from shuyu.policy import load_policies
from shuyu.products.clock import Clock
from shuyu.products.policy import load_products_policy
from shuyu.review.service import Principal
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database

app = typer.Typer(
    help="Reports for the bureau: the annual evaluation (年度评估).", no_args_is_help=True
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db", help="Database URL (default: $SHUYU_DB_URL, else the platform's state file)."
    ),
]
AdminOption = Annotated[
    str, typer.Option("--admin", help="The administrator acting (a staff account in `admins`).")
]
PoliciesOption = Annotated[
    Path | None,
    typer.Option("--policies", help="Policy directory (default: $SHUYU_POLICIES or ./policies)."),
]
YearOption = Annotated[
    int, typer.Option("--year", help="The year evaluated (local, Asia/Shanghai).")
]


def _evaluation(
    db_url: str, policies_dir: Path | None, admin: str
) -> tuple[AnnualEvaluation, Principal]:
    policies = load_policies(policies_dir)
    staff = policies.staff.get(admin)
    if staff is None or "admins" not in staff.groups:
        raise InputError(
            "--admin",
            "is not an administrator in policies/partners.yaml (非管理员账号)",
            value=admin,
        )
    url = db_url or PlatformSettings.from_env().db_url or Layout.default().db_url
    db = Database(url)
    db.upgrade()
    install_sink(url)
    products = load_products_policy(policies, policies_dir)
    evaluation = AnnualEvaluation(
        db, products=lambda: products, clock=Clock(products.monitoring.timezone)
    )
    return evaluation, Principal(admin, frozenset(staff.groups))


@app.command("annual")
def annual(
    year: YearOption,
    admin: AdminOption,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for annual-<year>.html and .json.")
    ] = Path("."),
    lang: Annotated[str, typer.Option("--lang", help="zh (default) or en.")] = "zh",
    db: DbOption = "",
    policies: PoliciesOption = None,
) -> None:
    """Write the year's report: annual-<year>.html (self-contained) and annual-<year>.json."""
    if lang not in {"zh", "en"}:
        raise InputError("--lang", "must be zh or en", value=lang)
    evaluation, who = _evaluation(db, policies, admin)
    try:
        figures = evaluation.report(who, year)
        suffix = "" if lang == "zh" else ".en"
        html, data = out / f"annual-{year}{suffix}.html", out / f"annual-{year}.json"
        atomic_write_text(html, annual_html(figures, lang=lang))
        atomic_write_text(data, annual_json(figures))
        typer.echo(f"{html}\n{data}")
        missing = [m.indicator for m in figures.manual if not m.value]
        if missing:
            typer.echo(
                f"待人工填报 / to be entered by hand: {', '.join(missing)} "
                "(shuyu report input --year … --indicator … --value …)"
            )
    finally:
        flush_sink()
        evaluation.db.dispose()


@app.command("input")
def manual_input(
    year: YearOption,
    indicator: Annotated[
        str, typer.Option("--indicator", help="One of: " + ", ".join(m.id for m in MANUAL))
    ],
    value: Annotated[
        str, typer.Option("--value", help="A percent, an amount in CNY, a text or a result.")
    ],
    admin: AdminOption,
    note: Annotated[
        str, typer.Option("--note", help="Its source (survey, third-party report).")
    ] = "",
    db: DbOption = "",
    policies: PoliciesOption = None,
) -> None:
    """Enter (or correct) a figure the platform's records cannot compute."""
    evaluation, who = _evaluation(db, policies, admin)
    try:
        figure = evaluation.set_manual(who, year, indicator, value, note)
        typer.echo(f"{year} {figure.zh} / {figure.en}: {figure.shown_zh}")
    finally:
        flush_sink()
        evaluation.db.dispose()
