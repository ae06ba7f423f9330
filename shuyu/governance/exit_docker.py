"""The Docker engine's part of an exit: the partner users' sandbox containers and their
workspace volumes (`PlatformSettings.workspace_volume`: `<project>-home-<user>--<scenario>`).

A volume is listed for the certificate by a short-lived helper container with the volume
mounted read-only, no network and no capability but reading every file (the workspace
belongs to the sandbox's user), running `shuyu.governance.exit_parts.TREE_LISTING`.
"""

from __future__ import annotations

from collections.abc import Sequence

from shuyu import docker_engine
from shuyu.errors import ShuyuError
from shuyu.governance.exit_parts import TREE_LISTING, FileEntry, Record, parse_listing
from shuyu.settings import PlatformSettings


class DockerWorkspaces:
    def __init__(self, settings: PlatformSettings) -> None:
        self.settings = settings

    def _prefix(self, username: str) -> str:
        # the scenario part is what follows `--`: a user named `a` never matches `a-b`'s
        return self.settings.workspace_volume(username, "x").removesuffix("x")

    def sandboxes(self, usernames: Sequence[str]) -> list[Record]:
        found = []
        for username in usernames:
            for container in docker_engine.client().containers.list(
                all=True,
                filters={
                    "label": [
                        "org.shuyu.role=sandbox",
                        f"org.shuyu.project={self.settings.project}",
                        f"org.shuyu.user={username}",
                    ]
                },
            ):
                attrs = container.attrs
                found.append(
                    Record(
                        str(container.name),
                        {
                            "id": container.id,
                            "name": container.name,
                            "image": (attrs.get("Config") or {}).get("Image", ""),
                            "created": attrs.get("Created", ""),
                            "labels": container.labels,
                        },
                    )
                )
        return found

    def remove_sandbox(self, name: str) -> None:
        import docker  # noqa: PLC0415

        try:
            docker_engine.client().containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            return

    def sandbox_exists(self, name: str) -> bool:
        import docker  # noqa: PLC0415

        try:
            docker_engine.client().containers.get(name)
        except docker.errors.NotFound:
            return False
        return True

    def volumes(self, usernames: Sequence[str]) -> list[str]:
        found = []
        for username in usernames:
            prefix = self._prefix(username)
            for volume in docker_engine.client().volumes.list(filters={"name": prefix}):
                if str(volume.name).startswith(prefix):  # the engine's filter is a substring
                    found.append(str(volume.name))
        return sorted(set(found))

    def list_volume(self, volume: str) -> list[FileEntry]:
        engine = docker_engine.client()
        container = engine.containers.create(
            self.settings.notebook_image,
            command=["python3", "-c", TREE_LISTING, "/volume"],
            entrypoint=[],
            user="0:0",
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            cap_add=["DAC_READ_SEARCH"],  # read the sandbox user's files, write nothing
            security_opt=["no-new-privileges"],
            volumes={volume: {"bind": "/volume", "mode": "ro"}},
            labels={"org.shuyu.project": self.settings.project, "org.shuyu.role": "exit-lister"},
        )
        try:
            container.start()
            result = container.wait(timeout=600)
            out = container.logs(stdout=True, stderr=False).decode("utf-8", errors="replace")
            if result.get("StatusCode", 1) != 0:
                err = container.logs(stdout=False, stderr=True).decode(errors="replace")
                raise ShuyuError(f"listing volume {volume} failed: {err.strip()[-300:]}")
        finally:
            container.remove(force=True)
        return parse_listing(out)

    def remove_volume(self, volume: str) -> None:
        import docker  # noqa: PLC0415

        try:
            docker_engine.client().volumes.get(volume).remove(force=True)
        except docker.errors.NotFound:
            return

    def volume_exists(self, volume: str) -> bool:
        import docker  # noqa: PLC0415

        try:
            docker_engine.client().volumes.get(volume)
        except docker.errors.NotFound:
            return False
        return True
