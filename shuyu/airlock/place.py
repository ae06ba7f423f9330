"""Placing an approved import in a partner's workspace (its Docker volume for the
scenario): the files land read-only under `imports/`, whole (renamed into place), so a
running sandbox never sees half a file. A workspace that does not exist yet is made the
partner's, as the sandbox's first start would."""

from __future__ import annotations

from shuyu import docker_engine
from shuyu.sandbox.hardening import CONTAINER_USER
from shuyu.settings import PlatformSettings


class WorkspacePlacer:
    def __init__(self, settings: PlatformSettings) -> None:
        self.settings = settings

    def __call__(self, username: str, scenario: str, files: dict[str, bytes]) -> None:
        import docker  # noqa: PLC0415

        volume = self.settings.workspace_volume(username, scenario)
        try:
            docker_engine.client().volumes.get(volume)
            owner = None
        except docker.errors.NotFound:
            owner = CONTAINER_USER
        docker_engine.fill_volume(
            volume,
            dict(files),
            image=self.settings.notebook_image,
            labels={"org.shuyu.project": self.settings.project},
            owner=owner,
        )
