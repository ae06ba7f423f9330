"""The Jupyter server extension every sandbox loads (enabled in /etc/jupyter, which
partners cannot write; the spawner disables all user configuration).

At load it: makes the server process non-dumpable, so that partner code running as the
same user can neither ptrace it nor read its memory or environment; takes the hub token
out of the environment that kernels and terminals inherit (only the server needs it);
starts the reporter and the egress meter; places the scenario's starter notebook and
README in a new workspace (`shuyu.sandbox.starter`); and checks that the authorizer and the
contents manager are shuyu's, stopping the server otherwise — a sandbox never runs with
its download controls switched off.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path
from typing import Any

from tornado.ioloop import IOLoop

from shuyu.sandbox.authorizer import DownloadDenyingAuthorizer
from shuyu.sandbox.contents import SandboxContentsManager
from shuyu.sandbox.egress import EgressMeter, install_meter
from shuyu.sandbox.limits import SandboxLimits
from shuyu.sandbox.report import SandboxReporter, current_reporter, install_reporter
from shuyu.sandbox.starter import place_starter_files
from shuyu.sandbox_env import SandboxEnvironment

PR_SET_DUMPABLE = 4
HUB_TOKEN_VARIABLES = ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "shuyu.sandbox.server_extension"}]


def make_non_dumpable() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def controls_in_place(serverapp: Any) -> list[str]:
    """What is wrong with this server's controls (empty: nothing)."""
    problems = []
    if not isinstance(serverapp.authorizer, DownloadDenyingAuthorizer):
        problems.append(f"authorizer is {type(serverapp.authorizer).__name__}")
    if not isinstance(serverapp.contents_manager, SandboxContentsManager):
        problems.append(f"contents manager is {type(serverapp.contents_manager).__name__}")
    return problems


def _hide_hub_token(serverapp: Any) -> str:
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    provider = getattr(serverapp, "identity_provider", None)
    hub_auth = getattr(provider, "hub_auth", None)
    if hub_auth is not None:
        _ = hub_auth.api_token  # read (and kept) before the variable goes
    for name in HUB_TOKEN_VARIABLES:
        os.environ.pop(name, None)
    return token


def _load_jupyter_server_extension(serverapp: Any) -> None:
    problems = controls_in_place(serverapp)
    if problems:
        serverapp.log.critical("shuyu: refusing to serve: %s", "; ".join(problems))
        sys.stderr.flush()
        os._exit(78)  # EX_CONFIG: never serve with the controls off
    if not make_non_dumpable():
        serverapp.log.critical("shuyu: cannot make the server non-dumpable")
        os._exit(78)
    limits = SandboxLimits.from_env()
    token = _hide_hub_token(serverapp)
    api_url = os.environ.get("JUPYTERHUB_API_URL", "")
    reporter = SandboxReporter(api_url, token) if token and api_url else None
    install_reporter(reporter)
    if reporter is not None:
        reporter.start()

    def on_cut(sent: int) -> None:
        serverapp.log.warning("shuyu: %s bytes to the browser in the last hour: cut", sent)
        active = current_reporter()
        if active is not None:
            egress = {"cut": True, "bytes_last_hour": sent}
            IOLoop.current().add_callback(active.flush, egress)

    install_meter(EgressMeter(limits.egress_bytes_per_hour, on_cut))
    sandbox = SandboxEnvironment.from_env()
    if sandbox is not None:
        try:
            placed = place_starter_files(Path(serverapp.root_dir), sandbox.scenario)
        except OSError as exc:  # a full or read-only workspace still serves
            serverapp.log.warning("shuyu: starter files not placed: %s", exc)
        else:
            if placed:
                serverapp.log.info("shuyu: placed %s for %s", placed, sandbox.scenario)
    serverapp.log.info(
        "shuyu: sandbox controls in place (egress %s B/h)", limits.egress_bytes_per_hour
    )
