"""Which approved wheels a sandbox (and a production run) of a scenario sees.

By default every approved package is in one set, the index's top folder, served at
`/simple/`. When `sandbox.packages.per_scenario` is on, a request is published into its
scenario's own set instead: the folder `.sets/<token>/` of the packages volume, served
at `/<token>/simple/` (a hidden folder: the top set's listing skips it). The token is
random and kept in the platform database; the hub hands a sandbox its own scenario's
path only. The index itself holds no secret and reads no database: a folder name
nobody was given cannot be listed or guessed (128 bits).
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy.exc import IntegrityError

from shuyu.audit.events import now_iso
from shuyu.packages.tables import PackageSetRow
from shuyu.policy.models import PackagePolicy
from shuyu.store.database import Database

SETS = ".sets"
TOKEN = re.compile(r"^[0-9a-f]{32}$")


def set_token(db: Database, scenario: str) -> str:
    """The token of `scenario`'s set, made on first use (two first uses at once agree:
    the loser of the insert reads the winner's)."""
    for _ in range(2):
        with db.session() as session:
            row = session.get(PackageSetRow, scenario)
            if row is not None:
                return row.token
        try:
            with db.session(write=True) as session:
                row = session.get(PackageSetRow, scenario)
                if row is not None:
                    return row.token
                token = secrets.token_hex(16)
                session.add(PackageSetRow(scenario=scenario, token=token, created_at=now_iso()))
                return token
        except IntegrityError:
            continue
    raise RuntimeError(f"no package set for {scenario}")  # pragma: no cover - two races lost


def set_of(policy: PackagePolicy, scenario: str) -> str:
    """The set a request for `scenario` is published to: the scenario, or "" (all)."""
    return scenario if policy.per_scenario else ""


def set_folder(db: Database, index_set: str) -> str:
    """The set's folder in the packages volume ("" for the top folder)."""
    return f"{SETS}/{set_token(db, index_set)}" if index_set else ""


def in_folder(folder: str, filename: str) -> str:
    """A published file's path in the packages volume."""
    return f"{folder}/{filename}" if folder else filename


def index_path(db: Database, policy: PackagePolicy, scenario: str) -> str:
    """The index path a sandbox of `scenario` installs from."""
    index_set = set_of(policy, scenario)
    return f"{set_token(db, index_set)}/simple/" if index_set else "simple/"
