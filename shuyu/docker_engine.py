"""The one way shuyu talks to the Docker engine: the Docker SDK for Python.

Image builds and imports, volumes, the hub's spawner (DockerSpawner uses the same SDK),
the runners and `make up` all go through a client from here, so that an unreachable
engine fails with one clear message. docker-compose alone stays a command line: it is
a separate program, not an engine API.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shuyu.errors import ShuyuError

_client: Any = None


def client(timeout: int = 600) -> Any:
    """A connected `docker.DockerClient` (cached per process)."""
    global _client  # noqa: PLW0603 - one connection pool per process
    if _client is not None:
        return _client
    import docker  # noqa: PLC0415 - only the processes that drive Docker need the SDK

    try:
        found = docker.from_env(timeout=timeout)
        found.ping()
    except docker.errors.DockerException as exc:
        raise ShuyuError(
            f"the Docker engine does not answer ({type(exc).__name__}): start dockerd (or "
            "`sudo systemctl start docker`) and make sure you may use it"
        ) from None
    _client = found
    return found


def inspect_image(image: str) -> dict[str, Any] | None:
    """The engine's description of `image`, or None when it does not have it."""
    import docker  # noqa: PLC0415

    try:
        return dict(client().api.inspect_image(image))
    except docker.errors.ImageNotFound:
        return None


def image_id(image: str) -> str | None:
    found = inspect_image(image)
    return str(found["Id"]) if found else None


def image_label(image: str, label: str) -> str | None:
    found = inspect_image(image)
    labels = ((found or {}).get("Config") or {}).get("Labels") or {}
    return str(labels[label]) if label in labels else None


def tag(source: str, target: str) -> None:
    repository, _, name = target.rpartition(":")
    client().api.tag(source, repository, name, force=True)


def untag_others(repository: str, keep: set[str]) -> None:
    """Drop `repository`'s other tags (superseded content-hash builds), so that rebuilds
    do not pile up gigabytes; an image a container still uses keeps its layers."""
    import docker  # noqa: PLC0415

    for image in client().images.list(name=repository):
        for full in image.tags:
            repo, _, name = full.rpartition(":")
            if repo == repository and name not in keep:
                # still in use by a container: its layers stay until that goes
                with contextlib.suppress(docker.errors.APIError):
                    client().api.remove_image(full, noprune=False)


def build(
    context: Path, *, tag: str, buildargs: dict[str, str], labels: dict[str, str], log: Path
) -> str:
    """`docker build --network none` of `context`; the engine's output goes to `log`.
    Returns the image id."""
    log.parent.mkdir(parents=True, exist_ok=True)
    built = ""
    error = ""
    with log.open("w", encoding="utf-8") as out:
        stream: Iterator[dict[str, Any]] = client().api.build(
            path=str(context),
            tag=tag,
            buildargs=buildargs,
            labels=labels,
            network_mode="none",
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "stream" in chunk:
                out.write(chunk["stream"])
            if "aux" in chunk and "ID" in chunk["aux"]:
                built = str(chunk["aux"]["ID"])
            if "error" in chunk:
                error = str(chunk["error"]).strip()
                out.write(json.dumps(chunk) + "\n")
    if error or not built:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        raise ShuyuError(f"docker build {tag} failed: {error or ' | '.join(tail)}; full log: {log}")
    return built


def import_rootfs(tarball: Path, image: str, changes: list[str]) -> None:
    """`docker import` of a root filesystem tarball as `image`."""
    repository, _, name = image.rpartition(":")
    result = client().api.import_image_from_file(
        str(tarball), repository=repository, tag=name, changes=changes
    )
    if "error" in str(result).lower():
        raise ShuyuError(f"docker import {image} failed: {str(result)[-300:]}")


# Runs inside the helper container: in each volume, move the staged files over the
# published ones, so that a container mounting the volume never sees a half-copied file.
_SWAP = (
    "import json,os,shutil\n"
    "for v in json.loads(os.environ['VOLUMES']):\n"
    "    d=v['dir']; s=d+'/.incoming'\n"
    "    for n in v['names']:\n"
    "        os.makedirs(os.path.dirname(d+'/'+n), exist_ok=True)\n"
    "        os.chmod(s+'/'+n, 0o444); os.replace(s+'/'+n, d+'/'+n)\n"
    "    shutil.rmtree(s)\n"
    "    if v['owner']: os.chown(d, *map(int, v['owner'].split(':'))); os.chmod(d, 0o700)\n"
)


def _tar(files: Mapping[str, bytes | Path], top: str = ".incoming") -> bytes:
    """`files` as a tar archive under the folder `top` ("" for none), read-only."""
    buffer = io.BytesIO()
    at = f"{top}/" if top else ""
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folders = ({top} if top else set()) | {
            f"{at}{parent}" for name in files for parent in Path(name).parents if str(parent) != "."
        }
        for folder in sorted(folders):
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, content in sorted(files.items()):
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(f"{at}{name}")
            info.size = len(data)
            info.mode = 0o444
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _check_names(volume: str, names: Iterable[str]) -> None:
    for name in names:
        if name.startswith("/") or ".." in Path(name).parts or name.startswith(".incoming"):
            raise ShuyuError(f"volume {volume}: refusing to place {name!r}")


@dataclass(frozen=True)
class VolumeFill:
    """What to place in one volume: relative path → content; with `owner` ("uid:gid")
    the volume's top folder is that user's alone (a runner's output folder)."""

    files: Mapping[str, bytes | Path]
    owner: str | None = None


def fill_volume(
    volume: str,
    files: Mapping[str, bytes | Path],
    *,
    image: str,
    labels: dict[str, str],
    owner: str | None = None,
) -> None:
    """Create `volume` if needed and place `files` in it (`fill_volumes` of one)."""
    fill_volumes({volume: VolumeFill(files, owner)}, image=image, labels=labels)


def fill_volumes(fills: Mapping[str, VolumeFill], *, image: str, labels: dict[str, str]) -> None:
    """Create each volume if needed and place its files in it, each renamed into place
    whole, through one short-lived container with no network (no host path is shared,
    so the same works against a remote engine): a runner's input and output folders
    cost one container start, not two."""
    for volume, fill in fills.items():
        _check_names(volume, fill.files)
    engine = client()
    mounts = {volume: f"/volumes/{i}" for i, volume in enumerate(fills)}
    for volume in fills:
        engine.volumes.create(name=volume, labels=labels)
    plan = [
        {"dir": mounts[volume], "names": sorted(fill.files), "owner": fill.owner or ""}
        for volume, fill in fills.items()
    ]
    container = engine.containers.create(
        image,
        command=["python3", "-c", _SWAP],
        user="0:0",
        network_mode="none",
        volumes={volume: {"bind": path, "mode": "rw"} for volume, path in mounts.items()},
        labels={**labels, "org.shuyu.role": "volume-filler"},
        entrypoint=[],
        environment={"VOLUMES": json.dumps(plan)},
    )
    try:
        for volume, fill in fills.items():
            if not container.put_archive(mounts[volume], _tar(fill.files)):
                raise ShuyuError(f"could not copy files into volume {volume}")
        container.start()
        result = container.wait(timeout=300)
        if result.get("StatusCode", 1) != 0:
            logs = container.logs().decode(errors="replace").strip().splitlines()[-1:]
            raise ShuyuError(f"filling volume(s) {', '.join(fills)} failed: {logs}")
    finally:
        container.remove(force=True)


def place_files(
    volume: str,
    files: Mapping[str, bytes | Path],
    *,
    last: str,
    image: str,
    labels: dict[str, str],
) -> None:
    """Place `files` (read-only) in the existing `volume`, the file `last` after all the
    others: for a volume that a started runner mounts and reads once `last` is there.
    Through a container that is created and never started: the engine mounts a created
    container's volumes for an archive write, so this costs no container start."""
    _check_names(volume, files)
    engine = client()
    container = engine.containers.create(
        image,
        command=["true"],
        entrypoint=[],
        network_mode="none",
        volumes={volume: {"bind": "/volume", "mode": "rw"}},
        labels={**labels, "org.shuyu.role": "volume-filler"},
    )
    try:
        rest = {name: content for name, content in files.items() if name != last}
        for part in (rest, {last: files[last]}):
            if part and not container.put_archive("/volume", _tar(part, top="")):
                raise ShuyuError(f"could not copy files into volume {volume}")
    finally:
        container.remove(force=True)


def read_volume(
    volume: str,
    *,
    image: str,
    labels: dict[str, str],
    max_bytes: int,
    names: Sequence[str] = (),
) -> dict[str, bytes]:
    """The regular files of `volume` (`read_tree` of its top folder), or only the files
    `names` (relative paths), read through a container that mounts it read-only and is
    never started: the engine mounts a created container's volumes for an archive read,
    so nothing runs beside the data."""
    import docker  # noqa: PLC0415

    engine = client()
    try:
        engine.volumes.get(volume)
    except docker.errors.NotFound:
        # creating the container would create an empty volume of that name
        raise ShuyuError(
            f"volume {volume} does not exist: nothing was published to it "
            "(`shuyu sandbox publish-views`; `make up` publishes the demo's)"
        ) from None
    container = engine.containers.create(
        image,
        command=["true"],
        entrypoint=[],
        network_mode="none",
        volumes={volume: {"bind": "/volume", "mode": "ro"}},
        labels={**labels, "org.shuyu.role": "volume-reader"},
    )
    try:
        if not names:
            return read_tree(container, "/volume", max_bytes=max_bytes)
        _check_names(volume, names)
        found: dict[str, bytes] = {}
        left = max_bytes
        for name in names:
            try:
                (data,) = read_tree(container, f"/volume/{name}", max_bytes=left).values()
            except (docker.errors.NotFound, ValueError):
                raise ShuyuError(f"volume {volume}: no file {name}") from None
            found[name] = data
            left -= len(data)
        return found
    finally:
        container.remove(force=True)


def read_tree(container: Any, path: str, *, max_bytes: int) -> dict[str, bytes]:
    """The regular files under `path` in a (stopped) container, relative path → bytes;
    refuses more than `max_bytes` in all, links and paths that leave `path`."""
    stream, _stat = container.get_archive(path)
    buffer = io.BytesIO()
    for chunk in stream:
        buffer.write(chunk)
        if buffer.tell() > max_bytes + (1 << 20):
            raise ShuyuError(f"{path}: more than {max_bytes} bytes of output")
    buffer.seek(0)
    found: dict[str, bytes] = {}
    total = 0
    top = Path(path).name
    with tarfile.open(fileobj=buffer, mode="r") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue  # directories implied; links and devices never followed
            parts = Path(member.name).parts
            if ".." in parts or member.name.startswith("/"):
                raise ShuyuError(f"{path}: output entry {member.name!r} leaves its folder")
            relative = str(Path(*parts[1:])) if parts and parts[0] == top else member.name
            total += member.size
            if total > max_bytes:
                raise ShuyuError(f"{path}: more than {max_bytes} bytes of output")
            extracted = tar.extractfile(member)
            if extracted is not None:
                found[relative] = extracted.read()
    return found
