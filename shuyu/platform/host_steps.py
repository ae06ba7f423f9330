"""The host's two steps over the platform database, built once for the worker's life
or for one manual command (`shuyu packages fetch`, `shuyu airlock process`)."""

from __future__ import annotations

from pathlib import Path

from shuyu.airlock.desk import AirlockDesk
from shuyu.airlock.host import place_tables
from shuyu.airlock.place import WorkspacePlacer
from shuyu.audit.events import install_sink
from shuyu.data.masking.key import read_key
from shuyu.packages.desk import PackageDesk
from shuyu.packages.fetch import fetch_approved
from shuyu.platform.host_worker import Say, Step
from shuyu.platform.layout import Layout
from shuyu.policy.cache import PolicyCache
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database

PACKAGES = "packages"
AIRLOCK = "airlock"


def host_steps(
    layout: Layout,
    settings: PlatformSettings,
    *,
    db_url: str = "",
    files: Path | None = None,
    key_file: Path | None = None,
) -> dict[str, Step]:
    url = db_url or settings.db_url or layout.db_url
    database = Database(url)
    database.upgrade()
    install_sink(url)
    policies = PolicyCache()
    packages = PackageDesk(database, policies)
    placer = WorkspacePlacer(settings)
    imports = AirlockDesk(database, policies, files or layout.state / "files", placer)

    def fetch(say: Say) -> int:
        return len(fetch_approved(packages, settings, policies().sandbox.packages, say))

    def place(say: Say) -> int:
        if not imports.to_place():
            return 0  # nothing to do: the key is not read
        key = read_key(key_file if key_file is not None else layout.masking_key)
        found = place_tables(imports, settings, policies=policies(), key=key, place=placer, say=say)
        return len(found)

    return {PACKAGES: Step(PACKAGES, fetch), AIRLOCK: Step(AIRLOCK, place)}
