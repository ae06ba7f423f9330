"""Where the platform keeps its run-time state on the host (never in the repository).

var/                      $SHUYU_VAR (default: ./var of the checkout)
  shuyu.env               compose --env-file: every SHUYU_* setting
  secrets/                0700; files 0600
    masking.key           host only: masking runs on the host, never in a container
    hub/                  mounted into the hub only
    mlflow/               mounted into MLflow only
    demo-accounts.txt     the demo accounts' passwords
  data/raw, data/masked, data/views
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from shuyu.fsutil import atomic_write_text


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def default(cls) -> Layout:
        env = os.environ.get("SHUYU_VAR")
        return cls(Path(env) if env else Path(__file__).resolve().parents[2] / "var")

    @property
    def env_file(self) -> Path:
        return self.root / "shuyu.env"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def masking_key(self) -> Path:
        return self.secrets / "masking.key"

    @property
    def hub_secrets(self) -> Path:
        return self.secrets / "hub"

    @property
    def mlflow_secrets(self) -> Path:
        return self.secrets / "mlflow"

    @property
    def demo_accounts(self) -> Path:
        return self.secrets / "demo-accounts.txt"

    @property
    def data(self) -> Path:
        """Where `shuyu.data.pipeline.build_demo_views` writes raw/, masked/ and views/."""
        return self.root / "data"

    @property
    def raw(self) -> Path:
        return self.data / "raw"

    @property
    def masked(self) -> Path:
        return self.data / "masked"

    @property
    def views(self) -> Path:
        return self.data / "views"

    def secret_dir(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        return path


def ensure_secret(path: Path, *, nbytes: int = 24) -> str:
    """A random secret at `path` (mode 0600), created once and never overwritten."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    atomic_write_text(path, value + "\n", mode=0o600)
    return value
