"""`shuyu products …`: the administrators' side of the product API — consumers, keys,
agreements, 事中检查 cases and unblocking, usage statements, the feature tables.

Every command that changes something names the administrator (`--admin`, a staff
account of group `admins` in policies/partners.yaml) and is audited under that name.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from shuyu.audit.events import audit_event, flush_sink, install_sink
from shuyu.errors import InputError
from shuyu.platform.layout import Layout
from shuyu.policy import load_policies
from shuyu.policy.models import Policies, ProductsPolicy
from shuyu.products.accounts import AgreementSpec, ConsumerSpec, ProductAccounts
from shuyu.products.admins import Admin
from shuyu.products.audit_watch import AuditWatch, lookback_seconds
from shuyu.products.case_states import CaseState, Resolution
from shuyu.products.cases import CaseDesk
from shuyu.products.clock import Clock
from shuyu.products.keys import KEY_PEPPER, KeyHasher
from shuyu.products.monitor import Monitor
from shuyu.products.policy import load_products_policy
from shuyu.products.settings import ProductSettings
from shuyu.products.statements import statement_csv, usage_statement
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database

app = typer.Typer(
    help="Data products by API: consumers, keys, agreements, 事中检查 cases, statements.",
    no_args_is_help=True,
)
consumer_app = typer.Typer(help="Consumers (使用单位).", no_args_is_help=True)
key_app = typer.Typer(help="API keys: issue, rotate, revoke.", no_args_is_help=True)
agreement_app = typer.Typer(help="Usage agreements (使用协议).", no_args_is_help=True)
case_app = typer.Typer(help="事中检查 cases: list, show, take, close.", no_args_is_help=True)
app.add_typer(consumer_app, name="consumer")
app.add_typer(key_app, name="key")
app.add_typer(agreement_app, name="agreement")
app.add_typer(case_app, name="case")

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
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (required; audited).")]


class _Context:
    def __init__(self, db_url: str, policies_dir: Path | None) -> None:
        url = db_url or PlatformSettings.from_env().db_url or Layout.default().db_url
        self.db = Database(url)
        self.db.upgrade()
        install_sink(url)
        self.policies_dir = policies_dir
        self.policies: Policies = load_policies(policies_dir)
        self.products: ProductsPolicy = load_products_policy(self.policies, policies_dir)
        self.clock = Clock(self.products.monitoring.timezone)

    def admin(self, username: str) -> Admin:
        staff = self.policies.staff.get(username)
        if staff is None or "admins" not in staff.groups:
            raise InputError(
                "--admin",
                "is not an administrator in policies/partners.yaml (非管理员账号)",
                value=username,
            )
        return Admin(username, frozenset(staff.groups))

    def accounts(self) -> ProductAccounts:
        settings = ProductSettings.from_env()
        pepper = settings.product_key_pepper_file or Layout.default().service_secrets / KEY_PEPPER
        return ProductAccounts(
            self.db,
            policies=lambda: self.policies,
            products=lambda: self.products,
            hasher=KeyHasher.from_file(pepper, create=True),
            clock=self.clock,
        )

    def cases(self) -> CaseDesk:
        return CaseDesk(self.db, clock=self.clock)

    def close(self) -> None:
        flush_sink()
        self.db.dispose()


def _context(db: str, policies: Path | None = None) -> _Context:
    return _Context(db, policies)


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------- consumers


@consumer_app.command("create")
def consumer_create(
    consumer_id: Annotated[str, typer.Argument(help="snake_case id, e.g. suzhou_rcb")],
    name: Annotated[str, typer.Option("--name", help="中文名称")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name")],
    kind: Annotated[str, typer.Option("--kind", help="bank | insurer | other")],
    admin: AdminOption,
    db: DbOption = "",
    policies: PoliciesOption = None,
) -> None:
    """Register a consumer (使用单位)."""
    ctx = _context(db, policies)
    try:
        spec = ConsumerSpec.model_validate(
            {"id": consumer_id, "name": name, "name_en": name_en, "kind": kind}
        )
        view = ctx.accounts().create_consumer(ctx.admin(admin), spec)
        typer.echo(f"使用单位 {view.id} 已创建 / consumer {view.id} created")
    finally:
        ctx.close()


@consumer_app.command("list")
def consumer_list(db: DbOption = "", policies: PoliciesOption = None) -> None:
    """Every consumer with its keys (ids and states, never secrets) and agreements."""
    ctx = _context(db, policies)
    try:
        _echo_json([c.model_dump(mode="json") for c in ctx.accounts().consumers()])
    finally:
        ctx.close()


@consumer_app.command("suspend")
def consumer_suspend(
    consumer_id: str, admin: AdminOption, reason: ReasonOption, db: DbOption = ""
) -> None:
    """Suspend a consumer: every key of it is refused until reinstated."""
    ctx = _context(db)
    try:
        ctx.accounts().set_consumer_status(ctx.admin(admin), consumer_id, "suspended", reason)
        typer.echo(f"{consumer_id}: suspended / 已暂停")
    finally:
        ctx.close()


@consumer_app.command("reinstate")
def consumer_reinstate(
    consumer_id: str, admin: AdminOption, reason: ReasonOption, db: DbOption = ""
) -> None:
    ctx = _context(db)
    try:
        ctx.accounts().set_consumer_status(ctx.admin(admin), consumer_id, "active", reason)
        typer.echo(f"{consumer_id}: active / 已恢复")
    finally:
        ctx.close()


# ---------------------------------------------------------------- keys


def _show_token(key_id: str, token: str) -> None:
    typer.echo(f"key id / 密钥编号: {key_id}")
    typer.echo(f"API key / 密钥（仅显示一次，请立即交付使用单位）: {token}")


@key_app.command("issue")
def key_issue(consumer_id: str, admin: AdminOption, db: DbOption = "") -> None:
    """A new API key for the consumer, printed once."""
    ctx = _context(db)
    try:
        issued = ctx.accounts().issue_key(ctx.admin(admin), consumer_id)
        _show_token(issued.key.id, issued.token)
    finally:
        ctx.close()


@key_app.command("rotate")
def key_rotate(
    key_id: str,
    admin: AdminOption,
    grace_hours: Annotated[
        float, typer.Option("--grace-hours", help="Hours the old key keeps working (0: none).")
    ] = 0,
    db: DbOption = "",
) -> None:
    """Replace a key: the new one is printed once; the old one stops after the grace."""
    ctx = _context(db)
    try:
        issued = ctx.accounts().rotate_key(ctx.admin(admin), key_id, grace_hours=grace_hours)
        _show_token(issued.key.id, issued.token)
    finally:
        ctx.close()


@key_app.command("revoke")
def key_revoke(key_id: str, admin: AdminOption, reason: ReasonOption, db: DbOption = "") -> None:
    ctx = _context(db)
    try:
        ctx.accounts().revoke_key(ctx.admin(admin), key_id, reason)
        typer.echo(f"{key_id}: revoked / 已吊销")
    finally:
        ctx.close()


# ---------------------------------------------------------------- agreements


def _fen(price: str) -> int:
    try:
        value = Decimal(price)
    except InvalidOperation:
        raise InputError("--price", "is not a number of yuan", value=price) from None
    fen = value * 100
    if fen != fen.to_integral_value() or fen < 0:
        raise InputError(
            "--price", "must be yuan with at most two decimals (元，最多两位小数)", value=price
        )
    return int(fen)


@agreement_app.command("set")
def agreement_set(
    consumer_id: str,
    product: str,
    admin: AdminOption,
    purpose: Annotated[list[str], typer.Option("--purpose", help="A permitted purpose (repeat).")],
    valid_from: Annotated[str, typer.Option("--from", help="First day in force (YYYY-MM-DD).")],
    valid_until: Annotated[str, typer.Option("--until", help="Last day in force (YYYY-MM-DD).")],
    daily: Annotated[int, typer.Option("--daily", help="Subjects per day.")],
    monthly: Annotated[int, typer.Option("--monthly", help="Subjects per month.")],
    price: Annotated[str, typer.Option("--price", help="Yuan per billable call, e.g. 0.50.")],
    region: Annotated[list[str], typer.Option("--region", help="A region code (repeat).")],
    db: DbOption = "",
    policies: PoliciesOption = None,
) -> None:
    """Create or replace the consumer's agreement for a product."""
    ctx = _context(db, policies)
    try:
        spec = AgreementSpec(
            consumer_id=consumer_id,
            product=product,
            purposes=purpose,
            valid_from=dt.date.fromisoformat(valid_from),
            valid_until=dt.date.fromisoformat(valid_until),
            daily_quota=daily,
            monthly_quota=monthly,
            price_fen=_fen(price),
            regions=region,
        )
        view = ctx.accounts().set_agreement(ctx.admin(admin), spec)
        _echo_json(view.model_dump(mode="json"))
    finally:
        ctx.close()


@agreement_app.command("terminate")
def agreement_terminate(
    consumer_id: str, product: str, admin: AdminOption, reason: ReasonOption, db: DbOption = ""
) -> None:
    ctx = _context(db)
    try:
        ctx.accounts().terminate_agreement(ctx.admin(admin), consumer_id, product, reason)
        typer.echo(f"{consumer_id}/{product}: terminated / 已终止")
    finally:
        ctx.close()


# ---------------------------------------------------------------- 事中检查


@app.command("unblock")
def unblock(key_id: str, admin: AdminOption, reason: ReasonOption, db: DbOption = "") -> None:
    """Lift a key's block after the manual check (人工核查) found no misuse."""
    ctx = _context(db)
    try:
        ctx.cases().unblock(ctx.admin(admin), key_id, reason)
        typer.echo(f"{key_id}: unblocked / 已解除拦截")
    finally:
        ctx.close()


@case_app.command("list")
def case_list(
    state: Annotated[str, typer.Option("--state", help="open | in_review | closed | all")] = "open",
    db: DbOption = "",
) -> None:
    ctx = _context(db)
    try:
        chosen = None if state == "all" else CaseState(state)
        for case in ctx.cases().cases(chosen):
            typer.echo(
                f"{case.id}\t{case.state_zh}\t{case.rule}\t{case.subject}\t{case.summary_zh}"
            )
    finally:
        ctx.close()


@case_app.command("show")
def case_show(case_id: str, db: DbOption = "") -> None:
    ctx = _context(db)
    try:
        _echo_json(ctx.cases().case(case_id).model_dump(mode="json"))
    finally:
        ctx.close()


@case_app.command("take")
def case_take(case_id: str, admin: AdminOption, note: str = "", db: DbOption = "") -> None:
    """Start the manual check of a case."""
    ctx = _context(db)
    try:
        ctx.cases().take(ctx.admin(admin), case_id, note)
        typer.echo(f"{case_id}: in review / 核查中")
    finally:
        ctx.close()


@case_app.command("close")
def case_close(
    case_id: str,
    admin: AdminOption,
    resolution: Annotated[str, typer.Option("--resolution", help="confirmed | cleared")],
    reason: ReasonOption,
    db: DbOption = "",
) -> None:
    """Close a case: `confirmed` revokes its key; a blocked key is cleared by `unblock`."""
    ctx = _context(db)
    try:
        ctx.cases().close(ctx.admin(admin), case_id, Resolution(resolution), reason)
        typer.echo(f"{case_id}: closed ({resolution}) / 已结案")
    finally:
        ctx.close()


@app.command("watch")
def watch(db: DbOption = "", policies: PoliciesOption = None) -> None:
    """Scan the audit log once for sandbox events (download refusals, night spawns)."""
    ctx = _context(db, policies)
    try:
        cases = ctx.cases()
        monitor = Monitor(ctx.products.monitoring, cases, clock=ctx.clock)
        result = AuditWatch(
            ctx.db, monitor, lookback_seconds=lookback_seconds(ctx.products.monitoring)
        ).scan()
        typer.echo(f"{result.events} events read, {len(result.cases)} case(s) opened")
        for case_id in result.cases:
            typer.echo(case_id)
    finally:
        ctx.close()


# ---------------------------------------------------------------- statements and tables


@app.command("statement")
def statement(
    consumer_id: str,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (local time)")],
    admin: AdminOption,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write CSV here.")] = None,
    db: DbOption = "",
) -> None:
    """A consumer's usage statement for a month (JSON, or CSV with --csv)."""
    ctx = _context(db)
    try:
        who = ctx.admin(admin)
        products = {p.id: p for p in ctx.products.products}
        result = usage_statement(ctx.db, consumer_id, month, clock=ctx.clock, products=products)
        audit_event(
            "product.statement",
            who.username,
            "allowed",
            role="admin",
            target=consumer_id,
            month=month,
            amount_fen=result.amount_fen,
        )
        if csv_out is None:
            _echo_json(result.model_dump(mode="json"))
        else:
            csv_out.write_text(statement_csv(result), encoding="utf-8")
            typer.echo(f"{csv_out}: {result.billable} billable calls, {result.amount_yuan} 元")
    finally:
        ctx.close()


@app.command("features")
def features(
    masked: Annotated[Path, typer.Option("--masked", help="The masked zone (脱敏区).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Tables directory (default: $SHUYU_PRODUCT_TABLES)."),
    ] = None,
    product: Annotated[str | None, typer.Option("--product", help="One product only.")] = None,
    policies: PoliciesOption = None,
) -> None:
    """Build the products' in-domain feature tables from the masked zone."""
    from shuyu.products.feature_table import (  # noqa: PLC0415 - polars only here
        build_feature_table,
        write_feature_table,
    )

    loaded = load_policies(policies)
    chosen = load_products_policy(loaded, policies).products
    if product is not None:
        chosen = [p for p in chosen if p.id == product]
        if not chosen:
            raise InputError("--product", "unknown product", value=product)
    target = out or ProductSettings.from_env().product_tables
    for item in chosen:
        table, manifest = build_feature_table(masked, loaded, item)
        path = write_feature_table(target, table, manifest)
        typer.echo(
            f"{item.id}: {manifest.rows} subjects, {len(manifest.features)} features → {path}"
        )


@app.command("serve")
def serve() -> None:
    """Run the product API (its own container: `docker-compose up products`)."""
    from shuyu.products.serve import serve as run  # noqa: PLC0415 - needs the service extra

    run()
