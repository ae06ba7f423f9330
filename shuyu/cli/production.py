"""`shuyu production …`: an operator's production jobs from a shell in the service's
container (`docker compose exec service shuyu production …`), the same calls as the
pages and the REST API, as the named staff account (`--as`), audited as that account."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError

from shuyu.errors import InputError
from shuyu.production.service import JobRequest, ProductionService
from shuyu.review.service import Principal

app = typer.Typer(help="Production: jobs, runs, quarantine decisions.", no_args_is_help=True)

AsOption = Annotated[
    str, typer.Option("--as", help="The staff account acting (policies/partners.yaml staff).")
]


def _principal(username: str) -> Principal:
    from shuyu.policy.cache import PolicyCache  # noqa: PLC0415

    staff = PolicyCache()().staff.get(username)
    if staff is None:
        raise InputError("--as", "is not a staff account in policies/partners.yaml", value=username)
    return Principal(username, frozenset(staff.groups))


def _service_as(username: str) -> ProductionService:
    """The service, once `username` is known to be staff (nothing is opened before)."""
    _principal(username)
    from shuyu.settings import PlatformSettings, ServiceSettings  # noqa: PLC0415
    from shuyu.web.serve import build_service  # noqa: PLC0415

    return build_service(PlatformSettings.from_env(), ServiceSettings.from_env()).production


def _print(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=1, default=str))


@app.command("register")
def register(
    who: AsOption,
    scenario: Annotated[str, typer.Option(help="The scenario, e.g. bank_credit.")],
    model: Annotated[str, typer.Option(help="The registered model; its `approved` runs.")],
    cron: Annotated[str, typer.Option(help="Five-field crontab, CST; empty: by hand.")] = "",
    parameter: Annotated[
        list[str] | None, typer.Option("--parameter", "-p", help="name=value, repeatable.")
    ] = None,
    timeout: Annotated[int, typer.Option(help="Execution time limit, seconds.")] = 1800,
) -> None:
    """Register a job: the approved model and the scenario's production notebook, pinned."""
    parameters: dict[str, str | int | float | bool] = {}
    for item in parameter or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError("--parameter", "is name=value", value=item)
        parameters[name] = value
    try:
        request = JobRequest(
            scenario=scenario,
            model_name=model,
            cron=cron,
            parameters=parameters,
            timeout_seconds=timeout,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        raise InputError(f"--{field}", problem["msg"], value=str(problem.get("input"))) from None
    _print(_service_as(who).register_job(_principal(who), request).model_dump())


@app.command("jobs")
def jobs(who: AsOption) -> None:
    """Every job."""
    _print([j.model_dump() for j in _service_as(who).jobs(_principal(who))])


@app.command("run")
def run_now(who: AsOption, job: Annotated[str, typer.Argument(help="The job's id.")]) -> None:
    """Queue a run of the job now (the service's worker starts it)."""
    _print(_service_as(who).run_now(_principal(who), job).model_dump())


@app.command("runs")
def runs(
    who: AsOption, job: Annotated[str, typer.Option(help="Only this job's runs.")] = ""
) -> None:
    """The latest runs, with their states and reasons."""
    found = _service_as(who).runs(_principal(who), job or None)
    for run in found:
        typer.echo(f"{run.id}  {run.job_id}  {run.state_zh}({run.state})  {run.reason[:120]}")


@app.command("show")
def show(who: AsOption, run: Annotated[str, typer.Argument(help="The run's id.")]) -> None:
    """One run with its history."""
    _print(_service_as(who).run(_principal(who), run).model_dump())


@app.command("decide")
def decide(
    who: AsOption,
    run: Annotated[str, typer.Argument(help="The quarantined run's id.")],
    reason: Annotated[str, typer.Option(help="Why (recorded and audited).")],
    release: Annotated[bool, typer.Option("--release/--discard")] = False,
) -> None:
    """A reviewer's decision on quarantined outputs: release them, or discard them."""
    _print(_service_as(who).decide(_principal(who), run, release, reason).model_dump())
