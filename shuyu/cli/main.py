"""The `shuyu` command: one sub-command group per part of the platform.

Every failure the user can fix is printed as one line on stderr (`error: …`) with a
non-zero exit: 2 for bad input or usage, 1 for anything unexpected.
"""

from __future__ import annotations

import importlib
import sys

import typer

from shuyu.cli import data, policy
from shuyu.errors import ShuyuError

app = typer.Typer(
    name="shuyu",
    help="数域 shuyu — secure data sandbox for authorised public-data operation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(policy.app, name="policy")
app.add_typer(data.app, name="data")


def _register_optional() -> None:
    """Groups whose third-party dependencies (docker, mlflow, torch) live only in some
    images: each is offered where it can run and absent elsewhere."""
    for module, name in (
        ("shuyu.cli.sandbox", "sandbox"),
        ("shuyu.cli.hub", "hub"),
        ("shuyu.cli.audit", "audit"),
        ("shuyu.cli.service", "service"),
        ("shuyu.cli.selfcheck", "selfcheck"),
        ("shuyu.cli.tracking", "mlflow"),
        ("shuyu.cli.train", "train"),
        ("shuyu.cli.images", "images"),
        ("shuyu.cli.platform", "platform"),
        ("shuyu.cli.products", "products"),
        ("shuyu.cli.production", "production"),
        ("shuyu.cli.packages", "packages"),
        ("shuyu.cli.airlock", "airlock"),
        ("shuyu.cli.report", "report"),
        ("shuyu.cli.filing", "filing"),
        ("shuyu.cli.freeze", "freeze"),
        ("shuyu.cli.exit", "exit"),
        ("shuyu.cli.demo", "demo"),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            # only a missing third-party extra hides a group; a broken shuyu module is a bug
            if exc.name is None or (exc.name.split(".")[0] == "shuyu" and exc.name != module):
                raise
            continue
        app.add_typer(mod.app, name=name)


_register_optional()


def main(argv: list[str] | None = None) -> int:
    command = typer.main.get_command(app)
    try:
        # without standalone mode the parser returns the code of `typer.Exit` instead of
        # exiting, and raises usage errors for us to print on one line
        result = command.main(args=argv, prog_name="shuyu", standalone_mode=False)
    except ShuyuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 1
    except typer.TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"error: {message} (see --help)".replace("\n", " "), file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
