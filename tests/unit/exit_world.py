"""An exit's parts on this machine, for tests without Docker: workspace volumes and
sandbox records as folders and files under a temporary directory, listed by the same
`TREE_LISTING` the helper container runs. The exit desk the tests use, with the
policies' partners; MLflow, where an exit needs it, is the real local server
(`tests.integration.test_exit_mlflow_store`)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from shuyu.governance.exit import ExitDesk, ExitParts
from shuyu.governance.exit_mlflow import local_python
from shuyu.governance.exit_parts import TREE_LISTING, FileEntry, Record, parse_listing
from shuyu.governance.exit_store import ExitRegister
from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.policy import load_policies
from shuyu.products.accounts import ProductAccounts
from shuyu.products.clock import Clock
from shuyu.products.keys import KeyHasher
from shuyu.products.policy import load_products_policy
from shuyu.review.service import Principal
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database

SETTINGS = PlatformSettings(project="shuyutest")
POLICIES = load_policies()
PRODUCTS = load_products_policy(POLICIES)
ADMIN = Principal("admin", frozenset({"admins"}))
OTHER_ADMIN = Principal("admin-bureau", frozenset({"admins"}))
OPERATOR = Principal("op-runner", frozenset({"operators"}))
LEAVING, USER, SCENARIO = "freight_insurer", "pc-actuary", "freight_truck_pricing"
STAYING, STAYING_USER, STAYING_SCENARIO = "suzhou_rcb", "sz-credit", "bank_credit"


def exit_desk(db: Database, root: Path, parts: ExitParts | None, today: dt.date) -> ExitDesk:
    accounts = ProductAccounts(
        db,
        policies=lambda: POLICIES,
        products=lambda: PRODUCTS,
        hasher=KeyHasher(b"a pepper of at least sixteen bytes"),
        clock=Clock(),
    )
    return ExitDesk(
        ExitRegister(db, today=lambda: today),
        FreezeDesk(db, lambda: POLICIES, lambda: PRODUCTS),
        lambda: POLICIES,
        parts,
        accounts,
    )


class FolderWorkspaces:
    """`<root>/volumes/<name>/` is a volume; `<root>/sandboxes/<name>.json` a container."""

    def __init__(self, root: Path) -> None:
        self.volumes_dir = root / "volumes"
        self.sandboxes_dir = root / "sandboxes"
        self.volumes_dir.mkdir(parents=True, exist_ok=True)
        self.sandboxes_dir.mkdir(parents=True, exist_ok=True)

    def add_volume(self, username: str, scenario: str, files: dict[str, bytes]) -> Path:
        folder = self.volumes_dir / SETTINGS.workspace_volume(username, scenario)
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        return folder

    def add_sandbox(self, username: str) -> str:
        name = f"shuyutest-sandbox-{username}"
        record = {"name": name, "user": username, "image": "shuyu/notebook:local"}
        (self.sandboxes_dir / f"{name}.json").write_text(json.dumps(record))
        return name

    def sandboxes(self, usernames: Sequence[str]) -> list[Record]:
        found = []
        for path in sorted(self.sandboxes_dir.glob("*.json")):
            record = json.loads(path.read_text())
            if record["user"] in usernames:
                found.append(Record(record["name"], record))
        return found

    def remove_sandbox(self, name: str) -> None:
        (self.sandboxes_dir / f"{name}.json").unlink(missing_ok=True)

    def sandbox_exists(self, name: str) -> bool:
        return (self.sandboxes_dir / f"{name}.json").exists()

    def volumes(self, usernames: Sequence[str]) -> list[str]:
        prefixes = tuple(SETTINGS.workspace_volume(u, "x").removesuffix("x") for u in usernames)
        return sorted(p.name for p in self.volumes_dir.iterdir() if p.name.startswith(prefixes))

    def list_volume(self, volume: str) -> list[FileEntry]:
        out = local_python()(["-c", TREE_LISTING, str(self.volumes_dir / volume)])
        return parse_listing(out)

    def remove_volume(self, volume: str) -> None:
        shutil.rmtree(self.volumes_dir / volume)

    def volume_exists(self, volume: str) -> bool:
        return (self.volumes_dir / volume).exists()
