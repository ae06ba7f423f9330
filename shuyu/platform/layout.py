"""Where the platform keeps its run-time state on the host (never in the repository).

var/                      $SHUYU_VAR (default: ./var of the checkout)
  shuyu.env               compose --env-file: every SHUYU_* setting
  ca.crt                  the local CA: trust it to trust the hub's HTTPS
  secrets/                0700; files 0600
    masking.key           host only: masking runs on the host, never in a container
    ca.key                host only: signs the hub's certificate
    hub/                  mounted into the hub only (MLflow admin copy, tls.crt, tls.key)
    mlflow/               mounted into MLflow only
    service/              mounted into the shuyu service only (gate password, approval key,
                          the API keys' pepper: administrators issue keys on its pages)
    products/             mounted into the product API only (masking key copy, the pepper)
  state/                  the services' shared state: the platform database
    demo-accounts.txt     the demo accounts' passwords
  data/raw, data/masked, data/views
  data/products           the products' masked feature tables (the product API only)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shuyu.platform.tls import TlsFiles
from shuyu.secrets import MASKING_KEY
from shuyu.settings import HostSettings


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def default(cls) -> Layout:
        var = HostSettings.from_env().var
        return cls(var if var else Path(__file__).resolve().parents[2] / "var")

    @property
    def env_file(self) -> Path:
        return self.root / "shuyu.env"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def masking_key(self) -> Path:
        return HostSettings.from_env().masking_key_file or self.secrets / MASKING_KEY

    @property
    def hub_secrets(self) -> Path:
        return self.secrets / "hub"

    @property
    def mlflow_secrets(self) -> Path:
        return self.secrets / "mlflow"

    @property
    def service_secrets(self) -> Path:
        return self.secrets / "service"

    @property
    def products_secrets(self) -> Path:
        return self.secrets / "products"

    @property
    def tls(self) -> TlsFiles:
        return TlsFiles(
            ca_cert=self.root / "ca.crt",
            ca_key=self.secrets / "ca.key",
            cert=self.hub_secrets / "tls.crt",
            key=self.hub_secrets / "tls.key",
        )

    @property
    def state(self) -> Path:
        """The services' shared state folder (bind-mounted at /srv/shuyu-state)."""
        return self.root / "state"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.state / 'shuyu.sqlite'}"

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

    @property
    def product_tables(self) -> Path:
        return self.data / "products"
