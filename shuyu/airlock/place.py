"""Placing an approved import in a partner's workspace (its Docker volume for the
scenario): the files land read-only under `imports/`, whole (renamed into place), so a
running sandbox never sees half a file. A workspace that does not exist yet is made as
the sandbox's first start makes it: the image's home copied into the new volume (a
volume that is not empty when a sandbox first mounts it gets no copy)."""

from __future__ import annotations

from shuyu import docker_engine
from shuyu.sandbox_env import HOME
from shuyu.settings import PlatformSettings


class WorkspacePlacer:
    def __init__(self, settings: PlatformSettings) -> None:
        self.settings = settings

    def __call__(self, username: str, scenario: str, files: dict[str, bytes]) -> None:
        import docker  # noqa: PLC0415

        engine = docker_engine.client()
        volume = self.settings.workspace_volume(username, scenario)
        labels = {"org.shuyu.project": self.settings.project}
        try:
            engine.volumes.get(volume)
        except docker.errors.NotFound:
            engine.volumes.create(name=volume, labels=labels)
            # started once with nothing to run: the engine copies the image's home in
            engine.containers.run(
                self.settings.notebook_image,
                ["true"],
                entrypoint=[],
                network_mode="none",
                volumes={volume: {"bind": str(HOME), "mode": "rw"}},
                labels={**labels, "org.shuyu.role": "volume-filler"},
                remove=True,
            )
        docker_engine.fill_volume(
            volume, dict(files), image=self.settings.notebook_image, labels=labels
        )
