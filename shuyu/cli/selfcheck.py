"""`shuyu selfcheck RUN_ID --scenario ID [--spec FILE]`: the security self-check of one
run, outside the review (an operator's or administrator's command on the platform's
host). Exit 0 pass, 1 fail, 2 could not run."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import yaml

from shuyu.errors import InputError
from shuyu.platform.layout import Layout
from shuyu.policy import load_policies

app = typer.Typer(help="The security self-check (安全自查) of a run.")


@app.callback(invoke_without_command=True)
def selfcheck(
    run_id: Annotated[str, typer.Argument(help="The MLflow run to check.")],
    scenario: Annotated[str, typer.Option(help="The scenario it was trained for.")],
    spec: Annotated[
        Path | None, typer.Option(help="A training spec: the platform trains it (certified).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to keep the report.")] = None,
) -> None:
    from shuyu.review.service import CheckRequest  # noqa: PLC0415 - the service extra
    from shuyu.runner.docker_executor import DockerExecutor  # noqa: PLC0415
    from shuyu.secrets import MLFLOW_GATE_PASSWORD, read_secret  # noqa: PLC0415
    from shuyu.selfcheck.pipeline import SelfCheckPipeline  # noqa: PLC0415
    from shuyu.settings import PlatformSettings, ServiceSettings  # noqa: PLC0415
    from shuyu.tracking.admin_client import GATE_USERNAME  # noqa: PLC0415
    from shuyu.tracking.store_client import MlflowStore  # noqa: PLC0415

    policies = load_policies()
    if scenario not in policies.scenarios:
        raise InputError("--scenario", "unknown scenario", value=scenario)
    loaded_spec = yaml.safe_load(spec.read_text(encoding="utf-8")) if spec else None
    settings = PlatformSettings.from_env()
    layout = Layout.default()
    store = MlflowStore(
        settings.mlflow_url,
        GATE_USERNAME,
        read_secret(layout.mlflow_secrets / MLFLOW_GATE_PASSWORD),
        timeout=120,
    )
    run = store.get_run(run_id)
    partner = next(
        (
            p.id
            for p in policies.partners.values()
            if any(u.username == run.user_id for u in p.users)
        ),
        "",
    )
    work = Path(out or tempfile.mkdtemp(prefix="shuyu-selfcheck."))
    pipeline = SelfCheckPipeline(
        store=store,
        executor=DockerExecutor(settings, ServiceSettings.from_env().runner_image),
        settings=settings,
        policies=lambda: policies,
        progress=lambda line: typer.echo(f"· {line}", err=True),
    )
    outcome = pipeline.check(
        CheckRequest(
            submission_id=f"cli-{secrets.token_hex(4)}",
            scenario=scenario,
            partner=partner,
            submitter=run.user_id,
            run_id=run_id,
            spec=loaded_spec,
            code_dir=work / "code",
            workdir=work,
            submitted_at=dt.datetime.now(dt.UTC),
        )
    )
    typer.echo(f"{outcome.status.value}: {outcome.reason}")
    for name, path in outcome.files.items():
        typer.echo(f"  {name}: {path}")
    raise typer.Exit({"pass": 0, "fail": 1}.get(outcome.status.value, 2))
